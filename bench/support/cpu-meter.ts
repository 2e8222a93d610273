/**
 * CPU time of the processes a phase involves (client, server, database server)
 * and of everything else on the machine, from /proc. Other work on a shared
 * 2-core machine skews throughput; this makes it visible in the results.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of stat(5), 12th and 13th after the command.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; total: number } {
  try {
    const [, ...nums] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = nums.map(Number);
    const busy = user + nice + system + irq + softirq + (steal || 0);
    return { busy, total: busy + idle + iowait };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** The MariaDB server's pid, when it runs on this machine (its CPU counts as the database's). */
export function findDatabaseServerPid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

export interface CpuUsage {
  /** CPU seconds used by each named process during the phase. */
  seconds: Record<string, number>;
  /** Average cores busy with anything else on the machine during the phase. */
  otherCores: number;
}

export class CpuMeter {
  private startProc = new Map<string, number>();
  private startMachine = machineTicks();
  private startedAt = Date.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [name, pid] of Object.entries(pids)) {
      if (pid !== undefined) this.startProc.set(name, processTicks(pid));
    }
  }

  stop(): CpuUsage {
    const seconds: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      if (pid === undefined) continue;
      const ticks = processTicks(pid) - (this.startProc.get(name) ?? 0);
      seconds[name] = ticks / TICKS_PER_SECOND;
      ours += ticks;
    }
    const m = machineTicks();
    const wallSeconds = (Date.now() - this.startedAt) / 1000;
    const other = Math.max(0, m.busy - this.startMachine.busy - ours) / TICKS_PER_SECOND;
    return { seconds, otherCores: wallSeconds > 0 ? other / wallSeconds : 0 };
  }
}
