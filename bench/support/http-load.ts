import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface HttpAnswer {
  status: number;
  text: string;
}

/** One request over the given keep-alive agent, with its own timeout. */
export function httpRequest(
  agent: Agent,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadResult {
  /** Tasks started (equals the task count unless the phase deadline cut it short). */
  started: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  wallMs: number;
  /** Per successful or failed task, in milliseconds. */
  latenciesMs: number[];
  /** When each task finished, in milliseconds from the start, in completion order. */
  completionsMs: number[];
  cutShort: boolean;
}

/**
 * Runs `count` tasks with `concurrency` in flight. Bounded in count and in time:
 * no task starts after `maxMs`. A task resolves to null when its answer was
 * right, or to a short description of what was wrong.
 */
export async function runTasks(opts: {
  count: number;
  concurrency: number;
  maxMs: number;
  task: (i: number) => Promise<string | null>;
}): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const completionsMs: number[] = [];
  const errorSamples: string[] = [];
  let next = 0;
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + opts.maxMs;
  const fail = (why: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(why.slice(0, 300));
  };
  const worker = async () => {
    while (next < opts.count && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        const problem = await opts.task(i);
        if (problem === null) ok++;
        else fail(problem);
      } catch (error) {
        fail((error as Error).message);
      }
      const done = performance.now();
      latenciesMs.push(done - t0);
      completionsMs.push(done - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  return {
    started: next,
    ok,
    errors,
    errorSamples,
    wallMs: performance.now() - started,
    latenciesMs,
    completionsMs,
    cutShort: next < opts.count,
  };
}
