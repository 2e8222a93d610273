import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from './database-errors';
import { sqlTime } from './sql-time';
import { UnitOfWork } from './unit-of-work';

/**
 * Cluster-wide leases for scheduled jobs: one instance at a time runs a job,
 * and a crashed holder's lease simply runs out. Leases are an optimisation
 * only: every row a job touches still goes through conditional updates.
 */
@Injectable()
export class JobLeaseService {
  constructor(private readonly uow: UnitOfWork) {}

  async tryAcquire(name: string, owner: string, ttlMs: number, now = new Date()): Promise<boolean> {
    const until = new Date(now.getTime() + ttlMs);
    return this.uow.run(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update('job_leases')
        .set({ owner, lease_until: sqlTime(until) })
        .where('name = :name AND (lease_until < :now OR owner = :owner)', {
          name,
          now: sqlTime(now),
          owner,
        })
        .execute();
      if ((result.affected ?? 0) > 0) return true;
      const exists = await tx.query('SELECT 1 FROM job_leases WHERE name = ?', [name]);
      if ((exists as unknown[]).length > 0) return false;
      try {
        await tx.query('INSERT INTO job_leases (name, owner, lease_until) VALUES (?, ?, ?)', [
          name,
          owner,
          sqlTime(until),
        ]);
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    });
  }

  async release(name: string, owner: string): Promise<void> {
    await this.uow.run((tx) =>
      tx.query('UPDATE job_leases SET lease_until = ? WHERE name = ? AND owner = ?', [
        sqlTime(new Date(0)),
        name,
        owner,
      ]),
    );
  }
}
