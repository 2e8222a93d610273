import { registerAs } from '@nestjs/config';
import { hostname } from 'node:os';
import { randomAlphanumeric } from '../common/ids/ids';
import { ConfigError, EnvReader } from './env';

export interface JobsConfig {
  /** False turns every scheduled job off on this instance (API-only instances, some tests). */
  enabled: boolean;
  /** This instance's name in job_leases and claimed rows. */
  instanceId: string;
  /** How often the poll loops run, in milliseconds. */
  pollIntervalMs: number;
  batchSize: number;
  /** The daily reconciliation (RECONCILE_ENABLED) and when it runs, minutes after midnight Beijing time (RECONCILE_AT). */
  reconcile: { enabled: boolean; atMinute: number };
}

/** `HH:MM`, 24-hour, → minutes after midnight. */
function clockTime(e: EnvReader, name: string, fallback: string): number {
  const raw = e.string(name, fallback);
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(raw);
  if (!match)
    throw new ConfigError(
      name,
      `must be HH:MM (24-hour, Beijing time), got ${JSON.stringify(raw)}`,
    );
  return Number(match[1]) * 60 + Number(match[2]);
}

export function loadJobsConfig(env: Record<string, string | undefined>): JobsConfig {
  const e = new EnvReader(env);
  return {
    enabled: e.bool('JOBS_ENABLED', true),
    instanceId: e
      .string('INSTANCE_ID', `${hostname()}-${process.pid}-${randomAlphanumeric(4)}`)
      .slice(0, 64),
    pollIntervalMs: e.int('JOBS_POLL_INTERVAL_MS', 5000, 10, 3_600_000),
    batchSize: e.int('JOBS_BATCH_SIZE', 100, 1, 10_000),
    reconcile: {
      enabled: e.bool('RECONCILE_ENABLED', true),
      atMinute: clockTime(e, 'RECONCILE_AT', '10:30'),
    },
  };
}

export const jobsConfig = registerAs('jobs', () => loadJobsConfig(process.env));
