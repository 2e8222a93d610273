/**
 * What every channel's downloadBill does alike: check the day asked for, keep
 * the download in a private temporary directory while it is read (a bill of
 * any size never sits in memory), and remove it afterwards. Channel formats
 * stay in the channel folders.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { BillError, type BillRow, type Channel } from './payment-provider';

/** How long one bill download may take, connection to last byte (a big day is tens of MB). */
export const BILL_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/** `YYYY-MM-DD` of a real calendar day, else a RangeError naming it. */
export function assertBillDate(date: string): void {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const at = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!at || at.toISOString().slice(0, 10) !== date) {
    throw new RangeError(`bill date must be a YYYY-MM-DD day, not ${JSON.stringify(date)}`);
  }
}

/** Today in Beijing (UTC+8, no daylight saving), `YYYY-MM-DD`: the channels' bill day. */
export function beijingToday(now = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** A private (0700) directory for one download; `remove()` always succeeds. */
export async function billTempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'paygate-bill-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface SavedBody {
  /** Bytes written (after gunzip when asked). */
  bytes: number;
  /** Hex digest of what was written, when a hash was asked for. */
  digest?: string;
}

/**
 * Streams a fetch body to `path`, optionally through gunzip and a hash of what
 * comes out of it (WeChat's SHA-1 covers the decompressed bill). A gzip stream
 * that is cut short or fails its own CRC rejects here, before anyone reads a row.
 */
export async function saveBody(
  body: WebReadableStream<Uint8Array> | ReadableStream<Uint8Array> | Readable,
  path: string,
  options: { gunzip?: boolean; hash?: 'sha1' } = {},
): Promise<SavedBody> {
  const hash = options.hash ? createHash(options.hash) : undefined;
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      bytes += chunk.length;
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  const source =
    body instanceof Readable ? body : Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  const out = createWriteStream(path, { mode: 0o600 });
  if (options.gunzip) await pipeline(source, createGunzip(), meter, out);
  else await pipeline(source, meter, out);
  return { bytes, ...(hash ? { digest: hash.digest('hex') } : {}) };
}

/**
 * The batches of a bill's rows as its reader yields them, counted; a failure is logged
 * (with what it names: the channel, the day, the line) on its way to the
 * caller, and so is the count once the bill is read. Rows stream through:
 * reconciliation keeps what a run found only once the whole bill is read, so
 * a bill that turns out unreadable at its last line leaves nothing behind.
 */
export async function* loggedRows(
  batches: AsyncIterable<BillRow[]>,
  label: string,
  logger: { log(message: string): void; warn(message: string): void; error(message: string): void },
): AsyncGenerator<BillRow[]> {
  let count = 0;
  try {
    for await (const rows of batches) {
      count += rows.length;
      yield rows;
    }
  } catch (error) {
    if (error instanceof BillError) logger.warn(error.message);
    else logger.error(`${label}: not read: ${(error as Error).message}`);
    throw error;
  }
  logger.log(`${label}: ${count} rows`);
}

/** A channel's bill reader, named so that a worker thread can load it. */
export interface BillReaderSpec {
  /** The reader's module, as require.resolve gives it. */
  module: string;
  exportName: string;
  /** Cloneable arguments: the downloaded file's path, options. */
  args: unknown[];
}

/** Rows a message from the worker: half a thousand, like the run's batches on MySQL (see BATCHES_AHEAD). */
const ROWS_PER_MESSAGE = 500;
/**
 * Batches the worker may send ahead of what the caller took: one, parsed while
 * the caller compares the one before. A batch that has crossed is a thousand
 * rows on the service's heap; one waiting longer lives through the young
 * generation's collections and is promoted, and the old generation grows with
 * it until V8 compacts. On a 400,000-row Alipay bill on MariaDB, two ahead
 * gave a peak RSS of 348 MiB and one ahead 239 MiB, in the same time.
 */
const BATCHES_AHEAD = 1;
/**
 * The worker's own heap: parsing keeps little alive (a batch, the parser's
 * buffers), so a small heap is collected early instead of growing with the
 * garbage a large bill makes. On a million-row WeChat bill, 48/16 MB gave a
 * peak RSS of 356 MiB for the service and 24/4 MB 240 MiB, and a faster parse.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 };

/**
 * Runs a channel's bill reader on a worker thread and yields its rows here,
 * in the batches they cross in.
 * A large bill is mostly parsing (inflate, GBK, CSV): on a thread of its own
 * it neither holds up the service's requests nor waits for the database, and
 * its garbage stays in a small heap of its own. Rows cross in batches, a few
 * ahead of the caller at most. Errors come back as they were thrown (a
 * BillError keeps its channel and reason). Stopping early ends the worker.
 */
export async function* readBillOffThread(
  spec: BillReaderSpec,
  channel: Channel,
): AsyncGenerator<BillRow[]> {
  // Under ts-node or jest the sources are TypeScript: the thread registers ts-node itself.
  const typescript = __filename.endsWith('.ts');
  const worker = new Worker(join(__dirname, `bill-reader.worker.${typescript ? 'ts' : 'js'}`), {
    workerData: { ...spec, batchSize: ROWS_PER_MESSAGE },
    execArgv: typescript ? ['-r', 'ts-node/register/transpile-only'] : [],
    // ts-node keeps the TypeScript compiler in the thread's heap: the limits are for the built service.
    resourceLimits: typescript ? undefined : WORKER_LIMITS,
  });
  const queue: {
    rows?: BillRow[];
    done?: true;
    error?: { message: string; channel?: Channel; reason?: BillError['reason'] };
  }[] = [];
  let notify: (() => void) | undefined;
  const push = (message: (typeof queue)[number]) => {
    queue.push(message);
    notify?.();
  };
  worker.on('message', push);
  worker.on('error', (error: Error) =>
    push({ error: { message: `the bill reader stopped: ${error.message}` } }),
  );
  worker.on('exit', (code) => {
    if (code !== 0) push({ error: { message: `the bill reader exited with code ${code}` } });
  });
  worker.postMessage({ credit: BATCHES_AHEAD });
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (notify = resolve));
      const message = queue.shift()!;
      if (message.error) {
        const { message: text, reason } = message.error;
        throw reason
          ? new BillError(message.error.channel ?? channel, reason, text)
          : new Error(text);
      }
      if (message.done) return;
      worker.postMessage({ credit: 1 });
      if (message.rows!.length > 0) yield message.rows!;
    }
  } finally {
    await worker.terminate();
  }
}
