import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PollLoop } from './poll-loop';

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('PollLoop', () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('never runs twice at once: a tick during a run joins it', async () => {
    const gate = deferred();
    const work = jest.fn(() => gate.promise);
    const loop = new PollLoop('test', 1000, work);
    const first = loop.tick();
    const second = loop.tick();
    expect(second).toBe(first);
    expect(work).toHaveBeenCalledTimes(1);
    gate.resolve();
    await first;
    await loop.tick();
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('survives a failing run and runs again next time', async () => {
    const work = jest.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue(3);
    const loop = new PollLoop('test', 1000, work);
    await expect(loop.tick()).resolves.toBeUndefined();
    await loop.tick();
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('registers its timer under its name, and stop() waits for the run in progress', async () => {
    const registry = new SchedulerRegistry();
    const gate = deferred();
    let finished = false;
    const loop = new PollLoop('deliver-test', 5, () => gate.promise.then(() => (finished = true)));
    loop.start(registry);
    expect(registry.getIntervals()).toEqual(['deliver-test']);
    await new Promise((r) => setTimeout(r, 30)); // a few ticks, all joining the first run
    const stopped = loop.stop(registry);
    expect(registry.getIntervals()).toEqual([]);
    gate.resolve();
    await stopped;
    expect(finished).toBe(true);
  });

  describe('wake()', () => {
    const turn = () => new Promise((r) => setImmediate(r));
    let registry: SchedulerRegistry;
    beforeEach(() => {
      registry = new SchedulerRegistry();
      jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    });

    it('does nothing on a loop that was never started (jobs disabled)', async () => {
      const work = jest.fn().mockResolvedValue(0);
      const loop = new PollLoop('test', 3_600_000, work);
      loop.wake();
      await turn();
      await turn();
      expect(work).not.toHaveBeenCalled();
    });

    it('runs soon, not at the next poll, and many wakes make one run', async () => {
      const work = jest.fn().mockResolvedValue(0);
      const loop = new PollLoop('wake-test', 3_600_000, work);
      loop.start(registry);
      loop.wake();
      loop.wake();
      loop.wake();
      await turn();
      await turn();
      expect(work).toHaveBeenCalledTimes(1);
      await loop.stop(registry);
    });

    it('during a run: tells the run (onBusy), and runs once more right after it', async () => {
      const gate = deferred();
      const work = jest.fn().mockReturnValueOnce(gate.promise).mockResolvedValue(0);
      const onBusy = jest.fn();
      const loop = new PollLoop('wake-test', 3_600_000, work, { onBusy });
      loop.start(registry);
      loop.wake();
      await turn();
      expect(work).toHaveBeenCalledTimes(1);
      loop.wake();
      loop.wake();
      expect(onBusy).toHaveBeenCalledTimes(2);
      gate.resolve();
      await turn();
      await turn();
      await turn();
      expect(work).toHaveBeenCalledTimes(2);
      await loop.stop(registry);
    });

    it('stop() aborts the signal the run was given; wakes after it run nothing', async () => {
      let seen: AbortSignal | undefined;
      const work = jest.fn((signal: AbortSignal) => {
        seen = signal;
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      });
      const loop = new PollLoop('wake-test', 3_600_000, work);
      loop.start(registry);
      loop.wake();
      await turn();
      expect(seen?.aborted).toBe(false);
      await loop.stop(registry);
      expect(seen?.aborted).toBe(true);
      loop.wake();
      loop.start(registry);
      await turn();
      await turn();
      expect(work).toHaveBeenCalledTimes(1);
      expect(registry.getIntervals()).toEqual([]);
    });
  });
});
