import { registerAs } from '@nestjs/config';
import { hostname } from 'node:os';
import { randomAlphanumeric } from '../common/ids/ids';
import { EnvReader } from './env';

export interface JobsConfig {
  /** False turns every scheduled job off on this instance (API-only instances, some tests). */
  enabled: boolean;
  /** This instance's name in job_leases and claimed rows. */
  instanceId: string;
  /** How often the poll loops run, in milliseconds. */
  pollIntervalMs: number;
  batchSize: number;
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
  };
}

export const jobsConfig = registerAs('jobs', () => loadJobsConfig(process.env));
