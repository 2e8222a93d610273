/**
 * The bare loop the reconciliation bench measures paygate against: in a process
 * of its own, only unzip (yauzl), decode (iconv-lite) and parse (csv-parse) the
 * same bill file, counting rows — no comparison, no database. Prints one JSON
 * line: rows, milliseconds, peak RSS.
 *
 *   node -r ts-node/register/transpile-only bench/reconcile-bare.ts alipay FILE.zip
 *   node -r ts-node/register/transpile-only bench/reconcile-bare.ts wechat FILE.gz
 */
import { parse } from 'csv-parse';
import { createReadStream, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import iconv from 'iconv-lite';
import yauzl from 'yauzl';

function openDetailEntry(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, decodeStrings: false }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error('no zip'));
      zip.on('error', reject);
      zip.on('entry', (entry: yauzl.Entry) => {
        const utf8 = (entry.generalPurposeBitFlag & 0x800) !== 0;
        const raw = entry.fileName as unknown as Buffer;
        const name = utf8 ? raw.toString('utf8') : iconv.decode(raw, 'gbk');
        if (!name.endsWith('_业务明细.csv')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) =>
          e || !stream ? reject(e ?? new Error('no stream')) : resolve(stream),
        );
      });
      zip.on('end', () => reject(new Error('no detail entry')));
      zip.readEntry();
    });
  });
}

function peakRssMiB(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match
    ? Math.round(Number(match[1]) / 1024)
    : Math.round(process.memoryUsage().rss / 2 ** 20);
}

async function main(): Promise<void> {
  const [channel, path] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  let rows = 0;
  if (channel === 'alipay') {
    const text = (await openDetailEntry(path)).pipe(iconv.decodeStream('gbk'));
    const parser = text.pipe(
      parse({
        comment: '#',
        comment_no_infix: true,
        relax_column_count: true,
        trim: true,
        from_line: 1,
      }),
    );
    let header = true;
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header) {
        header = false;
        continue;
      }
      if (record.length > 1) rows++;
    }
  } else {
    const text = createReadStream(path).pipe(createGunzip());
    const parser = text.pipe(parse({ bom: true, relax_column_count: true, quote: false }));
    let line = 0;
    for await (const record of parser as AsyncIterable<string[]>) {
      line++;
      if (line === 1 || !record[0]?.startsWith('`')) continue;
      if (record[0].startsWith('`') && record.length > 10) rows++;
    }
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ rows, ms: Math.round(ms), peakRssMiB: peakRssMiB() })}\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
