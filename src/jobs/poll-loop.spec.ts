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
});
