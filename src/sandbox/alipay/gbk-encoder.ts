/**
 * Alipay bills are GBK text in a zip whose entry names are GBK too. Node can
 * decode GBK (TextDecoder, full ICU) but not encode it, so the encoder's table
 * is built once by decoding every GBK double-byte code.
 */
import { TextDecoder } from 'node:util';

let table: Map<number, number> | null = null;

function buildTable(): Map<number, number> {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder('gbk', { fatal: false });
  } catch {
    throw new Error('this Node.js build has no GBK decoder (it needs full ICU)');
  }
  const map = new Map<number, number>();
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      const ch = decoder.decode(pair);
      const cp = ch.codePointAt(0);
      if (ch.length === 1 && cp !== undefined && cp !== 0xfffd && !map.has(cp)) {
        map.set(cp, (lead << 8) | trail);
      }
    }
  }
  return map;
}

/** Encodes text as GBK; characters GBK lacks (emoji…) become `?`. */
export function encodeGbk(text: string): Buffer {
  table ??= buildTable();
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out.push(cp);
      continue;
    }
    const code = table.get(cp);
    if (code === undefined) out.push(0x3f);
    else out.push(code >> 8, code & 0xff);
  }
  return Buffer.from(out);
}
