/**
 * The thread a large bill is parsed on (see readBillOffThread in
 * bill-files.ts). It loads the channel's reader named in workerData, runs it on
 * the downloaded file and posts the rows in batches, sending a batch only when
 * the main thread has asked for one (so memory stays flat however fast it
 * parses), then `done`, or the error that stopped it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BillError, type BillRow } from './payment-provider';

interface Job {
  module: string;
  exportName: string;
  args: unknown[];
  batchSize: number;
}

type Reader = (...args: unknown[]) => AsyncIterable<BillRow>;

const port = parentPort!;
const job = workerData as Job;
let credit = 0;
let wake: (() => void) | undefined;
port.on('message', (message: { credit?: number }) => {
  credit += message.credit ?? 0;
  wake?.();
});

async function sendable(): Promise<void> {
  while (credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
  credit--;
}

async function main(): Promise<void> {
  const reader = ((await import(job.module)) as Record<string, Reader>)[job.exportName];
  if (typeof reader !== 'function')
    throw new Error(`${job.module} has no reader ${job.exportName}`);
  let batch: BillRow[] = [];
  for await (const row of reader(...job.args)) {
    batch.push(row);
    if (batch.length < job.batchSize) continue;
    await sendable();
    port.postMessage({ rows: batch });
    batch = [];
  }
  if (batch.length > 0) {
    await sendable();
    port.postMessage({ rows: batch });
  }
  port.postMessage({ done: true });
}

main().catch((error: unknown) => {
  const e = error as Error;
  port.postMessage({
    error: {
      message: e?.message ?? String(error),
      ...(error instanceof BillError ? { channel: error.channel, reason: error.reason } : {}),
    },
  });
});
