import { jsonNestsDeeperThan } from './json-depth';

const text = (s: string) => Buffer.from(s, 'utf8');

describe('jsonNestsDeeperThan', () => {
  it('counts arrays and objects alike, and stops past the limit', () => {
    expect(jsonNestsDeeperThan(text('{"a":[1,{"b":2}]}'), 3)).toBe(false);
    expect(jsonNestsDeeperThan(text('{"a":[1,{"b":[2]}]}'), 3)).toBe(true);
    expect(jsonNestsDeeperThan(text('['.repeat(10_000) + ']'.repeat(10_000)), 32)).toBe(true);
  });

  it('measures depth, not the number of brackets: siblings do not add up', () => {
    expect(
      jsonNestsDeeperThan(text(JSON.stringify(Array.from({ length: 100 }, () => [[1]]))), 3),
    ).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(text(JSON.stringify({ s: '[[[[[[{{{{' })), 1)).toBe(false);
    expect(jsonNestsDeeperThan(text(JSON.stringify({ s: 'a"[[[[\\"{{{' })), 1)).toBe(false);
    expect(jsonNestsDeeperThan(text(JSON.stringify({ s: '\\', t: [[1]] })), 2)).toBe(true);
  });
});
