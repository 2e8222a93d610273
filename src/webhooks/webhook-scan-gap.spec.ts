import { scanGap } from './webhook-delivery.service';

describe('scanGap', () => {
  it('scans again soon after a scan that claimed rows, however long it took', () => {
    expect(scanGap(true, 1)).toBe(25);
    expect(scanGap(true, 400)).toBe(25);
  });

  it('keeps a cheap empty scan at the usual gap', () => {
    expect(scanGap(false, 2)).toBe(25);
  });

  it('spaces fruitless scans so that they take a fifth of the time at most', () => {
    expect(scanGap(false, 80)).toBe(400);
  });

  it('never waits longer than two seconds', () => {
    expect(scanGap(false, 900)).toBe(2_000);
  });
});
