/**
 * The bill zip as Alipay writes it (protocols.md A7): deflated entries whose
 * names are GBK with the zip's UTF-8 flag (general purpose bit 11) clear. yazl
 * writes every name as UTF-8 with that flag set and has no option for another
 * encoding, so each entry it creates gets its name bytes and flag changed
 * before any header is written: the name is swapped on the entry as yazl keeps
 * it (`utf8FileName`, from which it also counts offsets) and bit 11 cleared in
 * the two headers it makes. Pinned by alipay-sandbox-bill.builder.spec.ts.
 */
import iconv from 'iconv-lite';
import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';

const UTF8_NAME_FLAG = 0x800;

interface YazlEntry {
  utf8FileName: Buffer;
  getLocalFileHeader(): Buffer;
  getCentralDirectoryRecord(): Buffer;
}

/** Clears bit 11 at `offset` (local header: 6; central directory record: 8). */
function withoutUtf8Flag(make: () => Buffer, offset: number): () => Buffer {
  return () => {
    const header = make();
    header.writeUInt16LE(header.readUInt16LE(offset) & ~UTF8_NAME_FLAG, offset);
    return header;
  };
}

/** A yazl ZipFile whose entry names are written in GBK. */
export function gbkNamedZip(): ZipFile {
  const zip = new ZipFile();
  const entries = (zip as unknown as { entries: YazlEntry[] }).entries;
  entries.push = (...added: YazlEntry[]) => {
    for (const entry of added) {
      entry.utf8FileName = iconv.encode(entry.utf8FileName.toString('utf8'), 'gbk');
      entry.getLocalFileHeader = withoutUtf8Flag(entry.getLocalFileHeader.bind(entry), 6);
      entry.getCentralDirectoryRecord = withoutUtf8Flag(
        entry.getCentralDirectoryRecord.bind(entry),
        8,
      );
    }
    return Array.prototype.push.apply(entries, added);
  };
  return zip;
}

/** Every byte the zip writes, once `end()` is called (sandbox bills are small). */
export function zipBytes(zip: ZipFile): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = zip.outputStream as Readable;
    out.on('data', (c: Buffer) => chunks.push(c));
    out.on('end', () => resolve(Buffer.concat(chunks)));
    out.on('error', reject);
  });
}
