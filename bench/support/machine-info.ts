import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** The commit measured, and how many files under src/ differed from it. */
  code: string;
}

function codeVersion(root: string): string {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? ` + ${changed} uncommitted files in src/` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** What BENCHMARKS.md records beside every figure. */
export function machineInfo(root: string): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) cpuModel = match[1].trim();
  } catch {
    // Not Linux: os.cpus() is the best we have.
  }
  let kernel: string = process.platform;
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // idem
  }
  return {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel,
    code: codeVersion(root),
  };
}

/** The one-line description every bench report starts with. */
export function machineLine(m: MachineInfo): string {
  return `machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; code ${m.code}`;
}
