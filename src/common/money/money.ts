/**
 * Money is integer fen (1 yuan = 100 fen) everywhere in paygate. Channels speak
 * yuan strings ("88.80"); these helpers convert between the two exactly, on
 * strings and integers only, so no floating point ever touches an amount.
 */

/** Largest amount a single order may carry: 100,000,000 yuan, Alipay's ceiling. */
export const MAX_AMOUNT_FEN = 10_000_000_000;

const YUAN_PATTERN = /^(0|[1-9]\d{0,15})(?:\.(\d{1,2}))?$/;

export class MoneyFormatError extends Error {
  constructor(readonly input: string) {
    super(`not a yuan amount with at most two decimals: ${JSON.stringify(input)}`);
    this.name = 'MoneyFormatError';
  }
}

/** "88.8" → 8880, "0.01" → 1, "100" → 10000. Rejects "0.001", "1e3", "-1", " 1", "1.". */
export function yuanToFen(yuan: string): number {
  const match = YUAN_PATTERN.exec(yuan);
  if (!match) throw new MoneyFormatError(yuan);
  const whole = BigInt(match[1]);
  const decimals = (match[2] ?? '').padEnd(2, '0');
  const fen = whole * 100n + BigInt(decimals);
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) throw new MoneyFormatError(yuan);
  return Number(fen);
}

/** 8880 → "88.80", 1 → "0.01". Always two decimals, as both channels accept. */
export function fenToYuan(fen: number): string {
  assertFen(fen);
  const digits = String(fen).padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

export function isFen(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function assertFen(value: unknown): asserts value is number {
  if (!isFen(value))
    throw new RangeError(`not a whole, non-negative number of fen: ${String(value)}`);
}

/**
 * Reads a BIGINT money column: mysql2 hands BIGINT back as a string, SQLite as
 * a number. Either way the result must be a safe integer, or we refuse to guess.
 */
export function fenFromColumn(value: unknown): number {
  if (value === null || value === undefined) return value as unknown as number;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new RangeError(`money column holds a value that is not a safe integer: ${String(value)}`);
  }
  return n;
}

const FEE_PATTERN = /^(-)?(\d{1,16})(?:\.(\d{1,5}))?$/;

/**
 * An exact running total of yuan strings with up to five decimals (WeChat Pay
 * writes fees as "0.01000"), kept in 1/100000 yuan as a bigint. `add` refuses,
 * and reports false for, anything else.
 */
export class YuanTotal {
  private total = 0n;

  add(yuan: string): boolean {
    const match = FEE_PATTERN.exec(yuan.trim());
    if (!match) return false;
    const units = BigInt(match[2]) * 100000n + BigInt((match[3] ?? '').padEnd(5, '0'));
    this.total += match[1] ? -units : units;
    return true;
  }

  /** "12.34", or "0.00012" when the sub-fen digits matter. */
  toString(): string {
    const negative = this.total < 0n;
    const abs = negative ? -this.total : this.total;
    const digits = abs.toString().padStart(6, '0');
    const decimals = digits.slice(-5).replace(/0{1,3}$/, '');
    return `${negative ? '-' : ''}${digits.slice(0, -5)}.${decimals}`;
  }
}
