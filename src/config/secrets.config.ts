import { registerAs } from '@nestjs/config';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomAlphanumeric } from '../common/ids/ids';
import { registerSecret } from '../common/logging/redact';
import { loadAppConfig } from './app.config';
import { ConfigError, EnvReader } from './env';

export interface SecretsConfig {
  /** Every accepted merchant key; several during a rotation. */
  merchantApiKeys: string[];
  adminApiKey: string;
  /**
   * Webhook signing secrets, newest first; several during a rotation, and
   * every request then carries one v1 signature per secret.
   */
  webhookSecrets: string[];
}

type GeneratedName = 'MERCHANT_API_KEY' | 'ADMIN_API_KEY' | 'WEBHOOK_SECRET';
const KEY_PATTERN = /^[\x21-\x7e]{16,256}$/;

/**
 * Keys not given in the environment are generated once, kept in
 * <dataDir>/secrets.json (mode 0600) and shown on the terminal the first time
 * only, so a newcomer's `npm start` works and a restart keeps the same keys.
 */
export function loadSecretsConfig(
  env: Record<string, string | undefined>,
  announce: (text: string) => void = (text) => process.stdout.write(text),
): SecretsConfig {
  const e = new EnvReader(env);
  const { dataDir } = loadAppConfig(env);
  const given: Partial<Record<GeneratedName, string[]>> = {
    MERCHANT_API_KEY: keyList('MERCHANT_API_KEY', e.secret('MERCHANT_API_KEY', { file: true })),
    ADMIN_API_KEY: optionalList(e.secret('ADMIN_API_KEY', { file: true })),
    WEBHOOK_SECRET: keyList('WEBHOOK_SECRET', e.secret('WEBHOOK_SECRET', { file: true })),
  };
  if (new Set(given.WEBHOOK_SECRET).size !== (given.WEBHOOK_SECRET?.length ?? 0)) {
    throw new ConfigError('WEBHOOK_SECRET', 'lists the same secret twice');
  }
  for (const [name, keys] of Object.entries(given)) {
    for (const key of keys ?? []) {
      if (!KEY_PATTERN.test(key)) {
        throw new ConfigError(name, 'each key must be 16-256 printable characters without spaces');
      }
    }
  }
  const missing = (Object.keys(given) as GeneratedName[]).filter((n) => !given[n]);
  const generated = missing.length > 0 ? ensureGenerated(dataDir, missing, announce) : {};
  const config: SecretsConfig = {
    merchantApiKeys: given.MERCHANT_API_KEY ?? [generated.MERCHANT_API_KEY!],
    adminApiKey: given.ADMIN_API_KEY?.[0] ?? generated.ADMIN_API_KEY!,
    webhookSecrets: given.WEBHOOK_SECRET ?? [generated.WEBHOOK_SECRET!],
  };
  if (config.merchantApiKeys.includes(config.adminApiKey)) {
    throw new ConfigError('ADMIN_API_KEY', 'must differ from every MERCHANT_API_KEY');
  }
  for (const key of [...config.merchantApiKeys, config.adminApiKey, ...config.webhookSecrets])
    registerSecret(key);
  return config;
}

/** A comma-separated list of keys (a rotation: the new one first), or undefined when unset. */
function keyList(name: GeneratedName, raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const keys = raw
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new ConfigError(name, 'holds no key');
  return keys;
}

function optionalList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : [value];
}

function ensureGenerated(
  dataDir: string,
  names: GeneratedName[],
  announce: (text: string) => void,
): Partial<Record<GeneratedName, string>> {
  const file = join(dataDir, 'secrets.json');
  const stored: Partial<Record<GeneratedName, string>> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<GeneratedName, string>>)
    : {};
  const fresh = names.filter((n) => !stored[n]);
  if (fresh.length > 0) {
    const prefixes: Record<GeneratedName, string> = {
      MERCHANT_API_KEY: 'mk_',
      ADMIN_API_KEY: 'ak_',
      WEBHOOK_SECRET: 'whsec_',
    };
    for (const name of fresh) stored[name] = prefixes[name] + randomAlphanumeric(40);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    // Shown once, on the terminal only: this is the operator's one chance to copy them.
    const lines = fresh.map((name) => `  ${name}=${stored[name]}`).join('\n');
    announce(
      `\npaygate generated these keys (kept in ${file}, shown only this once):\n${lines}\n` +
        'Set them in the environment to choose your own.\n\n',
    );
  }
  return stored;
}

export const secretsConfig = registerAs('secrets', () => loadSecretsConfig(process.env));
