/**
 * The one function that decides what a secret looks like. Every log line and
 * every stored notification body passes through it, so a key never leaves the
 * process by accident.
 */
const SECRET_KEY_PATTERN =
  /(authorization|api[_-]?key|apiv3|secret|password|passwd|private[_-]?key|client[_-]?secret|x-client-secret|^sign$|signature|^key$|token|cookie|pay_?sign|paysign)/i;

const INLINE_PATTERNS: Array<[RegExp, string]> = [
  [
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
    '[REDACTED PRIVATE KEY]',
  ],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [REDACTED]'],
  [/\bcs_[0-9A-Za-z]{16,}\b/g, 'cs_[REDACTED]'],
  // Bare base64 DER keys as Alipay's key tool prints them.
  [/\bMII[A-Za-z0-9+/]{200,}={0,2}/g, '[REDACTED KEY]'],
];

export const REDACTED = '[REDACTED]';

/** Redacts secrets inside free text. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of INLINE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Deep copy of a value with secret-named fields replaced and secret-looking text masked. */
export function redact<T>(value: T, depth = 0): T {
  if (depth > 8) return '[…]' as unknown as T;
  if (typeof value === 'string') return redactText(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as unknown as T;
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    if (value instanceof Error) {
      return { name: value.name, message: redactText(value.message) } as unknown as T;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] =
        SECRET_KEY_PATTERN.test(k) && v !== undefined && v !== null && v !== ''
          ? REDACTED
          : redact(v, depth + 1);
    }
    return out as T;
  }
  return value;
}

/** Registers values that must never be printed, whatever their field name (API keys read at boot). */
const knownSecrets = new Set<string>();
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

export function scrubKnownSecrets(text: string): string {
  let out = text;
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}
