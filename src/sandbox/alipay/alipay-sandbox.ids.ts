import { randomInt } from 'node:crypto';
import { beijingCompactDate } from './alipay-sandbox.time';

export function randomDigits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(randomInt(10));
  return out;
}

/** 28 digits, date first, as Alipay's trade_no: `2024010122001` + 15 digits. */
export function newTradeNo(now: Date): string {
  return `${beijingCompactDate(now)}22001${randomDigits(15)}`;
}

/** A buyer's user id: `2088` + 12 digits. */
export function newBuyerId(): string {
  return `2088${randomDigits(12)}`;
}
