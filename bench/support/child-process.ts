import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');

/** A process the bench started itself; stopped by its own pid only. */
export interface BenchChild {
  name: string;
  pid: number | undefined;
  port: number;
  baseUrl: string;
  logFile: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function httpGetStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Spawns a server process with its output in a log file and waits (bounded)
 * until `healthPath` answers 200.
 */
export async function startChild(opts: {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  logFile: string;
  healthPath?: string;
  readyTimeoutMs?: number;
  cwd?: string;
}): Promise<BenchChild> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, opts.args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 10_000);
      await exit;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => log.end(resolve));
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) {
      await stop();
      throw new Error(
        `${opts.name} exited before it was ready; log ${opts.logFile}:\n${tail(opts.logFile)}`,
      );
    }
    if ((await httpGetStatus(`${baseUrl}${opts.healthPath ?? '/health'}`, 1000)) === 200) {
      return {
        name: opts.name,
        pid: child.pid,
        port: opts.port,
        baseUrl,
        logFile: opts.logFile,
        stop,
      };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(
    `${opts.name} not ready within the timeout; log ${opts.logFile}:\n${tail(opts.logFile)}`,
  );
}

export const SERVICE_KEYS = {
  MERCHANT_API_KEY: 'mk_bench_merchant_key_0123456789',
  ADMIN_API_KEY: 'ak_bench_admin_key_0123456789ab',
  WEBHOOK_SECRET: 'whsec_bench_secret_0123456789abcdef',
};

export type ServiceDb =
  | { type: 'sqlite'; path: string; synchronous: 'FULL' | 'NORMAL' }
  | { type: 'mysql'; database: string; poolSize: number };

/**
 * What an operator sets anyway, besides the database and the secrets: where
 * the service listens and how browsers reach it, its data directory, and
 * NODE_ENV=production. Everything else stays at its default (jobs on, LOG_LEVEL
 * info, text logs to stdout, which the bench sends to a file as journald or a
 * container runtime would).
 */
export interface ServiceOptions {
  dataDir: string;
  db: ServiceDb;
  logFile: string;
  /** Extra node options, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** A checkout whose dist/ to run instead of this one (A/B runs of a change). */
  root?: string;
  /** Settings an operator would make for this setup (webhook URL, allowlists). */
  env?: Record<string, string>;
  /**
   * The old stripped setup (jobs off, LOG_LEVEL=warn): for comparisons only,
   * labelled as such wherever its figures appear.
   */
  stripped?: boolean;
}

/** The settings the bench gives the service beyond its defaults, secrets masked, for the report. */
export function describeServiceEnv(env: Record<string, string>): string {
  const secret = new Set([...Object.keys(SERVICE_KEYS), 'DB_PASSWORD']);
  return Object.entries(env)
    .filter(([k]) => k !== 'PATH' && k !== 'HOME')
    .map(([k, v]) => `${k}=${secret.has(k) ? '(set)' : v}`)
    .join(' ');
}

export function serviceEnv(opts: ServiceOptions, port: number): Record<string, string> {
  const dbEnv: Record<string, string> =
    opts.db.type === 'sqlite'
      ? {
          DB_TYPE: 'sqlite',
          DB_PATH: opts.db.path,
          ...(opts.db.synchronous === 'FULL' ? {} : { DB_SQLITE_SYNCHRONOUS: opts.db.synchronous }),
        }
      : {
          DB_TYPE: 'mysql',
          ...mysqlEnv(),
          DB_NAME: opts.db.database,
          ...(opts.db.poolSize === 10 ? {} : { DB_POOL_SIZE: String(opts.db.poolSize) }),
        };
  return {
    NODE_ENV: 'production',
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: opts.dataDir,
    ...(opts.stripped ? { JOBS_ENABLED: 'false', LOG_LEVEL: 'warn' } : {}),
    ...SERVICE_KEYS,
    ...dbEnv,
    ...(opts.env ?? {}),
  };
}

/** The real service, built (dist/), with a private data directory and database. */
export async function startService(
  opts: ServiceOptions,
): Promise<BenchChild & { env: Record<string, string> }> {
  const main = join(opts.root ?? REPO_ROOT, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const port = await freePort();
  const env = serviceEnv(opts, port);
  const child = await startChild({
    name: 'service',
    args: [...(opts.nodeArgs ?? []), main],
    cwd: opts.root,
    port,
    logFile: opts.logFile,
    env,
  });
  return { ...child, env };
}

/** MariaDB connection settings: the DB_* variables when given, else root@127.0.0.1:3306. */
export function mysqlEnv(): Record<'DB_HOST' | 'DB_PORT' | 'DB_USER' | 'DB_PASSWORD', string> {
  return {
    DB_HOST: process.env.DB_HOST ?? '127.0.0.1',
    DB_PORT: process.env.DB_PORT ?? '3306',
    DB_USER: process.env.DB_USER ?? 'root',
    DB_PASSWORD: process.env.DB_PASSWORD ?? '',
  };
}
