import { DataSource } from 'typeorm';
import { MetricsService } from '../metrics/metrics.service';
import { GroupRolledBackError, Tx, UnitOfWork } from './unit-of-work';

/** The SQLite path of UnitOfWork: units queued together commit together, each undone alone. */
describe('UnitOfWork on SQLite', () => {
  let dataSource: DataSource;
  let uow: UnitOfWork;
  let commits: number;
  let metrics: MetricsService;
  /** Commits to refuse, counted from the next one: [2] refuses the second from now. */
  let refuseCommits: number[];

  beforeEach(async () => {
    dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (id TEXT PRIMARY KEY)');
    metrics = new MetricsService();
    uow = new UnitOfWork(dataSource, metrics);
    const runner = dataSource.createQueryRunner();
    const commit = runner.commitTransaction.bind(runner);
    commits = 0;
    refuseCommits = [];
    jest.spyOn(runner, 'commitTransaction').mockImplementation(async () => {
      commits++;
      if (refuseCommits.includes(commits)) throw new Error('disk I/O error');
      await commit();
    });
  });
  afterEach(() => dataSource.destroy());

  const insert = (id: string) => (tx: Tx) =>
    tx.query('INSERT INTO t (id) VALUES (?)', [id]).then(() => id);
  const ids = async () =>
    ((await dataSource.query('SELECT id FROM t ORDER BY id')) as { id: string }[]).map((r) => r.id);

  it('runs a lone unit in a transaction of its own', async () => {
    await expect(uow.run(insert('a'))).resolves.toBe('a');
    await expect(uow.run(insert('b'))).resolves.toBe('b');
    expect(commits).toBe(2);
    expect(await ids()).toEqual(['a', 'b']);
  });

  it('commits the units queued in one turn of the event loop together', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `u${i}`);
    await expect(Promise.all(names.map((n) => uow.run(insert(n))))).resolves.toEqual(names);
    // All ten were queued before the next turn of the event loop: one transaction.
    expect(commits).toBe(1);
    const [{ values }] = (await metrics.registry.getMetricsAsJSON()).filter(
      (m) => m.name === 'paygate_db_units_per_commit',
    );
    expect(values).toContainEqual(
      expect.objectContaining({ metricName: 'paygate_db_units_per_commit_sum', value: 10 }),
    );
    expect(await ids()).toEqual(names);
  });

  it('settles a unit only after its group committed', async () => {
    const settledAfter: number[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((n) => uow.run(insert(n)).then(() => settledAfter.push(commits))),
    );
    expect(settledAfter).toEqual([1, 1, 1]);
  });

  it('queues the units that arrive while a group runs for the next one', async () => {
    let later: Promise<string[]> | undefined;
    const slow = async (tx: Tx) => {
      await tx.query('INSERT INTO t (id) VALUES (?)', ['slow']);
      // Other requests are served meanwhile and queue their units.
      await new Promise((r) => setImmediate(r));
      later = Promise.all([uow.run(insert('x')), uow.run(insert('y'))]);
      return 'slow';
    };
    await expect(uow.run(slow)).resolves.toBe('slow');
    await expect(later).resolves.toEqual(['x', 'y']);
    expect(commits).toBe(2);
    expect(await ids()).toEqual(['slow', 'x', 'y']);
  });

  it('undoes a failing unit alone: its caller gets the error, the others commit', async () => {
    const failing = async (tx: Tx) => {
      await tx.query('INSERT INTO t (id) VALUES (?)', ['half-written']);
      throw new Error('boom');
    };
    const results = await Promise.allSettled([
      uow.run(insert('first')),
      uow.run(insert('a')),
      uow.run(failing),
      uow.run(insert('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('boom'));
    expect(await ids()).toEqual(['a', 'b', 'first']);
  });

  it('a unit refused by a constraint does not disturb the others', async () => {
    const results = await Promise.allSettled([
      uow.run(insert('x')),
      uow.run(insert('y')),
      uow.run(insert('y')),
      uow.run(insert('z')),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(await ids()).toEqual(['x', 'y', 'z']);
  });

  it('fails every unit of a group whose commit fails, and writes none of them', async () => {
    await uow.run(insert('before'));
    refuseCommits = [2];
    const results = await Promise.allSettled([uow.run(insert('a')), uow.run(insert('b'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('disk I/O error'));
    expect(await ids()).toEqual(['before']);
    // The connection is usable afterwards.
    await expect(uow.run(insert('after'))).resolves.toBe('after');
    expect(await ids()).toEqual(['after', 'before']);
  });

  it('when the database ends the transaction itself, the units before fail too and the ones after run again', async () => {
    await uow.run(insert('first'));
    const lostTransaction = async (tx: Tx) => {
      // What SQLite does on some errors (a full disk, an I/O error): the whole transaction is gone.
      await tx.query('ROLLBACK');
      throw new Error('database or disk is full');
    };
    const results = await Promise.allSettled([
      uow.run(insert('a')),
      uow.run(lostTransaction),
      uow.run(insert('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(GroupRolledBackError);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(
      new Error('database or disk is full'),
    );
    expect(await ids()).toEqual(['b', 'first']);
  });

  it('fails every queued unit when the database is gone, and leaves none waiting', async () => {
    await dataSource.destroy();
    const results = await Promise.allSettled([uow.run(insert('a')), uow.run(insert('b'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await dataSource.initialize();
  });
});
