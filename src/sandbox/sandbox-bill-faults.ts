/**
 * What a sandbox's bill control changes in the bills it serves, so that
 * reconciliation can be exercised by hand and in tests: a row for a trade or
 * refund paygate never made (paygate reports MISSING_LOCAL), a row left out
 * (MISSING_REMOTE), an amount altered (AMOUNT_MISMATCH), and faults of the
 * download itself — "not ready yet" for the next N requests, or a damaged file
 * for the next N. Each channel's sandbox keeps one instance and writes the
 * rows in its own format; this file knows no channel's words.
 *
 * Kept in memory, like the refund faults: a restart forgets them.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

export const BILL_ROW_CHANGES = ['add', 'omit', 'alter'] as const;
export type BillRowChange = (typeof BILL_ROW_CHANGES)[number];
export const BILL_ROW_KINDS = ['payment', 'refund'] as const;
export type BillRowKind = (typeof BILL_ROW_KINDS)[number];
export const BILL_FAULTS = ['not_ready', 'corrupt'] as const;
export type BillFault = (typeof BILL_FAULTS)[number];

/** One row as a sandbox bill carries it, whatever the channel writes around it. */
export interface SandboxBillRow {
  kind: BillRowKind;
  outTradeNo: string;
  /** Refunds: the merchant's refund number. */
  outRefundNo?: string;
  amountFen: number;
}

export interface BillRowEdit extends SandboxBillRow {
  id: number;
  change: BillRowChange;
  /** The Beijing day (`YYYY-MM-DD`) whose bill it changes. */
  date: string;
}

const ID = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class BillRowEditDto {
  @ApiProperty({
    enum: BILL_ROW_CHANGES,
    description:
      'add: a row for a trade or refund paygate never made (MISSING_LOCAL); omit: the row of this trade or refund is left out (MISSING_REMOTE); alter: its amount is amountFen instead (AMOUNT_MISMATCH)',
  })
  @IsIn(BILL_ROW_CHANGES)
  change!: BillRowChange;

  @ApiProperty({ enum: BILL_ROW_KINDS })
  @IsIn(BILL_ROW_KINDS)
  kind!: BillRowKind;

  @ApiPropertyOptional({
    example: 'P1A2B3C4D5E6F7G8H9J0K1L2M3N4P5Q6',
    description:
      'The trade (out_trade_no). Required for omit and alter; for add, a made-up one when absent',
  })
  @IsOptional()
  @Matches(ID)
  outTradeNo?: string;

  @ApiPropertyOptional({
    example: 'R1A2B3C4D5E6F7G8H9J0K1L2M3N4P5Q6',
    description:
      'Refunds: the refund (out_request_no / out_refund_no). omit and alter without it change every refund of the trade; add makes one up when absent',
  })
  @IsOptional()
  @Matches(ID)
  outRefundNo?: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 10_000_000_000,
    example: 8881,
    description: 'add and alter: the amount the row says, fen (add: 100 when absent)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000_000)
  amountFen?: number;

  @ApiPropertyOptional({
    example: '2024-01-01',
    description: 'The Beijing day whose bill it changes; today when absent',
  })
  @IsOptional()
  @Matches(DAY)
  date?: string;
}

export class BillFaultDto {
  @ApiProperty({
    enum: BILL_FAULTS,
    description:
      'not_ready: the next bill requests answer as the channel does before the bill exists; corrupt: the next downloads are damaged (a truncated zip, or content that does not match its hash)',
  })
  @IsIn(BILL_FAULTS)
  fault!: BillFault;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 1000,
    default: 1,
    description: 'how many requests meet it',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  times?: number;
}

export class BillControlStateResponse {
  @ApiProperty({
    type: 'array',
    items: { type: 'object' },
    example: [
      {
        id: 1,
        change: 'add',
        kind: 'payment',
        date: '2024-01-01',
        outTradeNo: 'SBXT0f1e2d3c4b5a69788796a5b4',
        amountFen: 1234,
      },
    ],
    description: 'the row changes in effect, oldest first',
  })
  edits!: BillRowEdit[];

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { not_ready: 0, corrupt: 1 },
    description: 'requests each fault still meets',
  })
  faults!: Record<BillFault, number>;
}

const beijingDay = (now = new Date()) =>
  new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);

export class SandboxBillFaults {
  private edits: BillRowEdit[] = [];
  private readonly faults: Record<BillFault, number> = { not_ready: 0, corrupt: 0 };
  private nextId = 1;

  constructor(private readonly madeUpId: (prefix: string) => string) {}

  /** Throws RangeError for an edit that cannot name its row. */
  addEdit(dto: BillRowEditDto): BillRowEdit {
    if (dto.change !== 'add' && !dto.outTradeNo) {
      throw new RangeError(`outTradeNo is required to ${dto.change} a row`);
    }
    if (dto.change === 'alter' && dto.amountFen === undefined) {
      throw new RangeError('amountFen is required to alter a row');
    }
    const outTradeNo = dto.outTradeNo ?? this.madeUpId('SBXT');
    const edit: BillRowEdit = {
      id: this.nextId++,
      change: dto.change,
      kind: dto.kind,
      date: dto.date ?? beijingDay(),
      outTradeNo,
      ...(dto.kind === 'refund'
        ? {
            outRefundNo:
              dto.outRefundNo ?? (dto.change === 'add' ? this.madeUpId('SBXR') : undefined),
          }
        : {}),
      amountFen: dto.amountFen ?? 100,
    };
    if (edit.outRefundNo === undefined) delete edit.outRefundNo;
    this.edits.push(edit);
    return edit;
  }

  clear(): void {
    this.edits = [];
    this.faults.not_ready = 0;
    this.faults.corrupt = 0;
  }

  setFault(fault: BillFault, times = 1): void {
    this.faults[fault] = times;
  }

  /** Whether this request meets the fault (used up one request at a time). */
  take(fault: BillFault): boolean {
    if (this.faults[fault] <= 0) return false;
    this.faults[fault]--;
    return true;
  }

  state(): BillControlStateResponse {
    return { edits: [...this.edits], faults: { ...this.faults } };
  }

  /**
   * The day's rows as the bill should show them: omitted rows dropped, altered
   * amounts changed (through `alter`, which rewrites the channel's own row),
   * added rows appended (made by `make`).
   */
  apply<R extends SandboxBillRow>(
    date: string,
    rows: R[],
    alter: (row: R, amountFen: number) => R,
    make: (added: SandboxBillRow) => R,
  ): R[] {
    const edits = this.edits.filter((e) => e.date === date);
    if (edits.length === 0) return rows;
    const hits = (e: BillRowEdit, r: R) =>
      e.kind === r.kind &&
      e.outTradeNo === r.outTradeNo &&
      (e.outRefundNo === undefined || e.outRefundNo === r.outRefundNo);
    const out: R[] = [];
    for (const row of rows) {
      if (edits.some((e) => e.change === 'omit' && hits(e, row))) continue;
      const altered = edits.filter((e) => e.change === 'alter' && hits(e, row)).at(-1);
      out.push(altered ? alter(row, altered.amountFen) : row);
    }
    for (const e of edits) {
      if (e.change !== 'add') continue;
      out.push(
        make({
          kind: e.kind,
          outTradeNo: e.outTradeNo,
          ...(e.outRefundNo ? { outRefundNo: e.outRefundNo } : {}),
          amountFen: e.amountFen,
        }),
      );
    }
    return out;
  }
}
