import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxBookStore, reviveDate } from './sandbox-book.store';

interface Trade {
  id: string;
  status: string;
  at: Date;
}

class TestStore extends SandboxBookStore<Trade> {
  constructor(dir: string) {
    super(dir, 'test-trades', 'TestSandbox');
  }
  protected key(trade: Trade): string {
    return trade.id;
  }
  protected revive(trade: Trade): Trade {
    trade.at = reviveDate(trade.at)!;
    return trade;
  }
}

/** A store over a live map of trades, as the sandbox services keep them. */
function open(dir: string): { store: TestStore; trades: Map<string, Trade> } {
  const store = new TestStore(dir);
  const trades = new Map(store.load().map((t) => [t.id, t]));
  store.bind(
    () => [...trades.values()],
    () => trades.size,
  );
  return { store, trades };
}

const journal = (dir: string) => join(dir, 'sandbox', 'test-trades.jsonl');
const lineCount = (dir: string) =>
  readFileSync(journal(dir), 'utf8').split('\n').filter(Boolean).length;

describe('SandboxBookStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paygate-book-'));
  });

  it('appends only the trades that changed, and a reload sees the newest line of each', () => {
    const { store, trades } = open(dir);
    for (let i = 0; i < 10; i++) {
      const t = { id: `T${i}`, status: 'NEW', at: new Date(1_700_000_000_000 + i) };
      trades.set(t.id, t);
      store.changed(t);
    }
    store.flush(); // first write after loading: the whole journal
    expect(lineCount(dir)).toBe(11);

    const t3 = trades.get('T3')!;
    t3.status = 'PAID';
    store.changed(t3);
    store.changed(t3);
    store.flush();
    expect(lineCount(dir)).toBe(12); // one line appended, not the books again

    const reloaded = new TestStore(dir).load();
    expect(reloaded).toHaveLength(10);
    const again = reloaded.find((t) => t.id === 'T3')!;
    expect(again.status).toBe('PAID');
    expect(again.at).toEqual(new Date(1_700_000_000_003));
  });

  it('rewrites the journal once stale lines outnumber the live trades (plus slack)', () => {
    const { store, trades } = open(dir);
    const t = { id: 'ONLY', status: 'S0', at: new Date() };
    trades.set(t.id, t);
    for (let i = 1; i <= 1500; i++) {
      t.status = `S${i}`;
      store.changed(t);
      store.flush();
    }
    expect(lineCount(dir)).toBeLessThanOrEqual(1003);
    expect(new TestStore(dir).load()).toEqual([expect.objectContaining({ status: 'S1500' })]);
  });

  it('skips a line cut short by a crash and keeps the rest', () => {
    const { store, trades } = open(dir);
    const t = { id: 'A', status: 'NEW', at: new Date() };
    trades.set(t.id, t);
    store.changed(t);
    store.flush();
    appendFileSync(journal(dir), '{"id":"A","status":"PA');
    const loaded = new TestStore(dir).load();
    expect(loaded).toEqual([expect.objectContaining({ id: 'A', status: 'NEW' })]);
  });

  it('starts empty from an unknown format rather than guessing', () => {
    mkdirSync(join(dir, 'sandbox'), { recursive: true });
    writeFileSync(journal(dir), '{"format":99}\n{"id":"A"}\n');
    expect(new TestStore(dir).load()).toEqual([]);
  });

  it('takes over the books of the earlier whole-file format and removes it at the first write', () => {
    mkdirSync(join(dir, 'sandbox'), { recursive: true });
    const legacy = join(dir, 'sandbox', 'test-trades.json');
    writeFileSync(
      legacy,
      JSON.stringify({
        format: 1,
        trades: [{ id: 'OLD', status: 'PAID', at: '2026-01-01T00:00:00.000Z' }],
      }),
    );
    const { store, trades } = open(dir);
    expect([...trades.keys()]).toEqual(['OLD']);
    store.changed(trades.get('OLD'));
    store.flush();
    expect(existsSync(legacy)).toBe(false);
    expect(new TestStore(dir).load()).toEqual([
      { id: 'OLD', status: 'PAID', at: new Date('2026-01-01T00:00:00.000Z') },
    ]);
  });

  it('writes what is pending at shutdown and nothing after', () => {
    const { store, trades } = open(dir);
    const t = { id: 'A', status: 'NEW', at: new Date() };
    trades.set(t.id, t);
    store.changed(t);
    store.beforeApplicationShutdown();
    expect(new TestStore(dir).load()).toHaveLength(1);
    t.status = 'LATE';
    store.changed(t);
    store.flush();
    expect(new TestStore(dir).load()[0].status).toBe('NEW');
  });
});
