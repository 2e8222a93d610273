/**
 * The simulated WeChat Pay's trade bills, for v3 and v2 alike: the text of a
 * Beijing day built from the shared trade book (wechat-sandbox.bill.ts), the
 * bill control's row changes and faults (SandboxBillFaults), and v3's two-step
 * download — GET /v3/bill/tradebill names a file and its SHA-1, the file is
 * served once from a token URL that expires 30 s later (protocols.md C4).
 */
import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { SandboxBillFaults } from '../sandbox-bill-faults';
import { buildBill, type BillType } from './wechat-sandbox.bill';
import { WechatSandboxService } from './wechat-sandbox.service';
import { WECHAT_SANDBOX_SETTINGS, type WechatSandboxSettings } from './wechat-sandbox.settings';

export const BILL_FILE_TTL_MS = 30_000;

export interface IssuedBillFile {
  body: Buffer;
  gzip: boolean;
  expiresAt: number;
}

export interface TradeBillAnswer {
  hash_type: 'SHA1';
  hash_value: string;
  download_url: string;
}

@Injectable()
export class WechatSandboxBills {
  /** Row changes and download faults, told by the bill control. */
  readonly faults = new SandboxBillFaults((prefix) =>
    `${prefix}${randomBytes(12).toString('hex')}`.slice(0, 32),
  );
  private readonly files = new Map<string, IssuedBillFile>();

  constructor(
    @Inject(WECHAT_SANDBOX_SETTINGS) private readonly settings: WechatSandboxSettings,
    private readonly trades: WechatSandboxService,
  ) {}

  /** The bill text of a day (yyyyMMdd), or null when it has no record of the type. */
  text(
    billDate: string,
    type: BillType,
    appId: string,
    mchId: string,
    bom: boolean,
  ): string | null {
    return buildBill(this.trades.allTrades(), billDate, type, appId, mchId, {
      bom,
      faults: this.faults,
    });
  }

  /**
   * v3: the file of a day, kept behind a fresh token; hash_value is the SHA-1 of
   * the text. A damaged download (the bill control's `corrupt`) serves a text
   * one line longer than the one hashed.
   */
  issue(text: string, gzip: boolean, now = Date.now()): TradeBillAnswer {
    const hash = createHash('sha1').update(text, 'utf8').digest('hex');
    const served = this.faults.take('corrupt') ? `${text}\r\n` : text;
    const body = Buffer.from(served, 'utf8');
    this.purge(now);
    const token = randomBytes(24).toString('base64url');
    this.files.set(token, {
      body: gzip ? gzipSync(body) : body,
      gzip,
      expiresAt: now + BILL_FILE_TTL_MS,
    });
    return {
      hash_type: 'SHA1',
      hash_value: hash,
      download_url: `${this.settings.publicBaseUrl}/sandbox/wechat/v3/billdownload/file?token=${token}`,
    };
  }

  file(token: string, now = Date.now()): IssuedBillFile | null {
    this.purge(now);
    return this.files.get(token) ?? null;
  }

  private purge(now: number): void {
    for (const [token, file] of this.files) if (file.expiresAt <= now) this.files.delete(token);
  }
}
