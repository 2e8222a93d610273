import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/** A setting that stops boot. The message always names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Typed reads of environment variables. An empty string counts as unset, as in
 * most .env tooling, so `FOO=` in .env falls back to the default.
 */
export class EnvReader {
  constructor(private readonly env: Env) {}

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw))
      throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (n < min || n > max)
      throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < min || n > max) {
      throw new ConfigError(
        name,
        `must be a number between ${min} and ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    return n;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const match = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
    if (!match)
      throw new ConfigError(
        name,
        `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`,
      );
    return match;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
  }

  httpUrl(name: string): string | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(name, `must be an http(s) URL, got ${JSON.stringify(raw)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(name, `must be an http(s) URL, got ${JSON.stringify(raw)}`);
    }
    return raw.replace(/\/+$/, '');
  }

  /** A comma-separated list of IPv4/IPv6 addresses or CIDR blocks. */
  cidrList(name: string): string[] {
    const raw = this.raw(name);
    if (raw === undefined) return [];
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items) {
      if (!isCidr(item))
        throw new ConfigError(name, `not an IP address or CIDR block: ${JSON.stringify(item)}`);
    }
    return items;
  }

  /** A secret given inline (NAME) or as a file path (NAME_FILE); never both. */
  secret(name: string, options: { file?: boolean } = {}): string | undefined {
    const inline = this.raw(name);
    const fileVar = `${name}_FILE`;
    const file = options.file ? this.raw(fileVar) : undefined;
    if (inline !== undefined && file !== undefined) {
      throw new ConfigError(name, `set ${name} or ${fileVar}, not both`);
    }
    if (file === undefined) return inline;
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(
        fileVar,
        `cannot read ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
}

export function isCidr(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
