import { loadJobsConfig } from './jobs.config';

describe('jobs config: reconciliation', () => {
  it('runs daily at 10:30 Beijing time unless told otherwise', () => {
    expect(loadJobsConfig({}).reconcile).toEqual({ enabled: true, atMinute: 630 });
    expect(loadJobsConfig({ RECONCILE_AT: '09:05', RECONCILE_ENABLED: 'false' }).reconcile).toEqual(
      {
        enabled: false,
        atMinute: 545,
      },
    );
  });

  it.each(['9:05', '24:00', '10:60', '1030', 'noon'])(
    'refuses RECONCILE_AT=%s naming it',
    (value) => {
      expect(() => loadJobsConfig({ RECONCILE_AT: value })).toThrow(
        `RECONCILE_AT: must be HH:MM (24-hour, Beijing time), got ${JSON.stringify(value)}`,
      );
    },
  );
});
