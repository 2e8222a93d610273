/**
 * How deeply a JSON text nests, read from its bytes before anything parses it.
 * A body nested thousands of levels deep parses, but every recursive walk after
 * it (class-transformer, class-validator, JSON.stringify) overflows the stack;
 * refusing it here makes it a 400 instead of a 500. Brackets inside strings do
 * not count. Stops at the first level past `max`.
 */
export function jsonNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}
