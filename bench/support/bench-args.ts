/** Tiny `--name value` / `--flag` parser: the benches take a handful of options. */
export type BenchDb = 'sqlite' | 'mysql';

export class BenchArgs {
  private readonly values = new Map<string, string>();

  constructor(argv: string[], known: string[]) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
      // `--name=value`: the value is everything after the first '=' (it may hold '=' itself).
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (!known.includes(name))
        throw new Error(`unknown option --${name} (known: ${known.join(', ')})`);
      const next = argv[i + 1];
      if (inline !== undefined) this.values.set(name, inline);
      else if (next !== undefined && !next.startsWith('--')) this.values.set(name, argv[++i]);
      else this.values.set(name, 'true');
    }
  }

  string(name: string, fallback: string): string {
    return this.values.get(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${name} must be an integer between ${min} and ${max}`);
    }
    return n;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${name} must be a number between ${min} and ${max}`);
    }
    return n;
  }

  flag(name: string): boolean {
    return this.values.get(name) === 'true';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.values.get(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new Error(`--${name} must be one of ${allowed.join(', ')}`);
    }
    return raw as T;
  }

  dbs(): BenchDb[] {
    const db = this.oneOf('db', ['sqlite', 'mysql', 'both'] as const, 'both');
    return db === 'both' ? ['sqlite', 'mysql'] : [db];
  }
}

/** Progress lines go to stderr so that stdout carries only the results. */
export function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}
