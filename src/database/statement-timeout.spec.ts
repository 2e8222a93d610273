import { isDatabaseUnavailable } from './database-errors';
import {
  BoundableConnection,
  BoundablePool,
  boundConnectionWaits,
  boundStatements,
  withStatementTimeout,
} from './statement-timeout';

type Callback = (error: unknown, result?: unknown) => void;

/** A stand-in for a mysql2 connection: statements are answered when the test says so. */
class FakeConnection implements BoundableConnection {
  readonly pending: { sql: unknown; callback: Callback }[] = [];
  destroyed = 0;
  streamDestroyed = 0;
  readonly stream = { destroy: () => void this.streamDestroyed++ };

  query(sql: unknown, ...rest: unknown[]): unknown {
    const callback = rest[rest.length - 1];
    if (typeof callback === 'function') this.pending.push({ sql, callback: callback as Callback });
    return { sql };
  }

  execute(sql: unknown, params: unknown, callback: Callback): unknown {
    if (!Array.isArray(params)) throw new TypeError('Bind parameters must be array');
    this.pending.push({ sql, callback });
    return { sql };
  }

  destroy(): void {
    this.destroyed++;
  }
}

function outcome(): { callback: Callback; calls: { error: unknown; result?: unknown }[] } {
  const calls: { error: unknown; result?: unknown }[] = [];
  return { callback: (error, result) => void calls.push({ error, result }), calls };
}

describe('boundStatements', () => {
  let connection: FakeConnection;
  beforeEach(() => {
    jest.useFakeTimers();
    connection = new FakeConnection();
    boundStatements(connection, 1000);
  });
  afterEach(() => jest.useRealTimers());

  it('passes an answer given in time through, and leaves the connection alone', () => {
    const { callback, calls } = outcome();
    connection.execute('SELECT 1', [], callback);
    connection.pending[0].callback(null, [{ one: 1 }]);
    jest.advanceTimersByTime(5000);
    expect(calls).toEqual([{ error: null, result: [{ one: 1 }] }]);
    expect(connection.destroyed).toBe(0);
  });

  it('fails a statement unanswered past the bound as an outage, having closed its connection first', () => {
    const { callback, calls } = outcome();
    const destroyedWhenCalledBack: number[] = [];
    connection.query('COMMIT', (error: unknown) => {
      destroyedWhenCalledBack.push(connection.destroyed);
      callback(error);
    });
    jest.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(calls).toHaveLength(1);
    expect(calls[0].error).toMatchObject({ code: 'PROTOCOL_SEQUENCE_TIMEOUT' });
    expect(isDatabaseUnavailable(calls[0].error)).toBe(true);
    expect(destroyedWhenCalledBack).toEqual([1]);
    expect(connection.streamDestroyed).toBe(1);
    // An answer that comes after all is not passed on a second time.
    connection.pending[0].callback(null, []);
    expect(calls).toHaveLength(1);
  });

  it('bounds query with values and execute alike', () => {
    const a = outcome();
    const b = outcome();
    connection.query('SELECT ?', [1], a.callback);
    connection.execute('SELECT ?', [2], b.callback);
    jest.advanceTimersByTime(1000);
    expect([a.calls.length, b.calls.length]).toEqual([1, 1]);
  });

  it('uses the longer bound of work run within withStatementTimeout', async () => {
    const { callback, calls } = outcome();
    await withStatementTimeout(60_000, async () => {
      connection.query(
        'DELETE FROM reconciliation_bill_keys WHERE run_id = ?',
        ['rec_1'],
        callback,
      );
    });
    // Outside it, the default again.
    const other = outcome();
    connection.query('SELECT 1', other.callback);
    jest.advanceTimersByTime(1000);
    expect(other.calls).toHaveLength(1);
    expect(calls).toEqual([]);
    jest.advanceTimersByTime(59_000);
    expect(calls).toHaveLength(1);
  });

  it('leaves a streamed query (no callback) unbounded', () => {
    connection.query('SELECT * FROM orders');
    jest.advanceTimersByTime(60_000);
    expect(connection.destroyed).toBe(0);
  });

  it('keeps no timer for a statement refused before it was sent', () => {
    const { callback, calls } = outcome();
    expect(() => connection.execute('SELECT ?', 'not an array', callback)).toThrow(TypeError);
    jest.advanceTimersByTime(5000);
    expect(calls).toEqual([]);
    expect(connection.destroyed).toBe(0);
  });

  it('wraps a connection once, however often the pool hands it out', () => {
    boundStatements(connection, 50);
    const { callback, calls } = outcome();
    connection.query('SELECT 1', callback);
    jest.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(calls).toHaveLength(1);
  });
});

describe('boundConnectionWaits', () => {
  type Borrower = (error: unknown, connection?: { release(): void }) => void;
  let waiting: Borrower[];
  let pool: BoundablePool;
  beforeEach(() => {
    jest.useFakeTimers();
    waiting = [];
    pool = { getConnection: (callback) => void waiting.push(callback), on: () => pool };
    boundConnectionWaits(pool, 1000);
  });
  afterEach(() => jest.useRealTimers());

  const borrow = () => {
    const got: { error: unknown; connection?: unknown }[] = [];
    pool.getConnection((error, connection) => void got.push({ error, connection }));
    return got;
  };

  it('hands over a connection the pool gives in time', () => {
    const got = borrow();
    const connection = { release: jest.fn() };
    waiting[0](null, connection);
    jest.advanceTimersByTime(5000);
    expect(got).toEqual([{ error: null, connection }]);
    expect(connection.release).not.toHaveBeenCalled();
  });

  it('fails a borrower left waiting past the bound as an outage, and gives back what comes later', () => {
    const got = borrow();
    jest.advanceTimersByTime(1000);
    expect(got).toHaveLength(1);
    expect(got[0].error).toMatchObject({ code: 'POOL_ACQUIRE_TIMEOUT' });
    expect(isDatabaseUnavailable(got[0].error)).toBe(true);
    const late = { release: jest.fn() };
    waiting[0](null, late);
    expect(late.release).toHaveBeenCalledTimes(1);
    expect(got).toHaveLength(1);
  });

  it("passes the pool's own refusal on as it is", () => {
    const got = borrow();
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    waiting[0](refused);
    jest.advanceTimersByTime(5000);
    expect(got).toEqual([{ error: refused, connection: undefined }]);
  });
});
