import { rmSync } from 'node:fs';
import { progress } from './bench-args';

/**
 * What a bench must undo, newest first: the processes it started (by their own
 * handle), the databases it created, its work directory. Also run on Ctrl-C.
 */
export class Cleanups {
  private readonly steps: (() => Promise<void>)[] = [];
  private workDir: string | undefined;

  constructor(private readonly keepWorkDir: () => boolean) {
    process.once('SIGINT', () => {
      progress('interrupted: stopping the processes this bench started and dropping its databases');
      void this.runAll(true).finally(() => process.exit(130));
    });
  }

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  removeAtEnd(workDir: string): void {
    this.workDir = workDir;
  }

  async runAll(final = false): Promise<void> {
    while (this.steps.length) {
      try {
        await this.steps.pop()!();
      } catch (error) {
        progress(`cleanup: ${(error as Error).message}`);
      }
    }
    if (final && this.workDir) {
      if (this.keepWorkDir()) progress(`kept ${this.workDir}`);
      else rmSync(this.workDir, { recursive: true, force: true });
      this.workDir = undefined;
    }
  }
}
