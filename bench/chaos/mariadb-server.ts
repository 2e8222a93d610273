/**
 * A MariaDB server of the chaos run's own, in its own data directory and port,
 * that the run may SIGKILL and start again at will and removes at the end. The
 * machine's shared server is never touched.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'];
const SERVER = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'];

function firstExisting(paths: string[], what: string): string {
  const found = paths.find((p) => existsSync(p));
  if (!found) throw new Error(`${what} not found (looked for ${paths.join(', ')})`);
  return found;
}

export class ChaosMariadb {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  readonly dataDir: string;

  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = join(dir, 'data');
  }

  /** A fresh data directory (root with no password, TCP on 127.0.0.1 only). */
  install(): void {
    mkdirSync(this.dir, { recursive: true });
    execFileSync(
      firstExisting(INSTALL_DB, 'mariadb-install-db'),
      [
        '--no-defaults',
        `--datadir=${this.dataDir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { stdio: 'ignore' },
    );
  }

  /** Starts the server and resolves once it answers. */
  async start(timeoutMs = 60_000): Promise<void> {
    const log = createWriteStream(join(this.dir, 'mariadbd.log'), { flags: 'a' });
    const child = spawn(
      firstExisting(SERVER, 'mariadbd'),
      [
        '--no-defaults',
        `--datadir=${this.dataDir}`,
        `--port=${this.port}`,
        `--socket=${join(this.dir, 'mariadbd.sock')}`,
        `--pid-file=${join(this.dir, 'mariadbd.pid')}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=256M',
        '--max-connections=500',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const conn = await mysql.createConnection(this.connectionOptions());
        await conn.end();
        return;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`mariadbd did not start: ${(error as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** SIGKILL: no shutdown, InnoDB recovers on the next start. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  connectionOptions(database?: string): mysql.ConnectionOptions {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: 'root',
      password: '',
      database,
      charset: 'utf8mb4_unicode_ci',
      timezone: 'Z',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    };
  }

  async createDatabase(name: string): Promise<void> {
    const conn = await mysql.createConnection(this.connectionOptions());
    await conn.query(
      `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    await conn.end();
  }
}
