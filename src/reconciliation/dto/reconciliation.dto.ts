import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, Length, Matches, Validate } from 'class-validator';
import type { ValidationArguments, ValidatorConstraintInterface } from 'class-validator';
import { ValidatorConstraint } from 'class-validator';
import { PageQuery } from '../../common/pagination/keyset';
import { CHANNELS, type Channel } from '../../payments/payment-provider';
import { isBillDate } from '../beijing-day';
import {
  DISCREPANCY_TYPES,
  DiscrepancyType,
  ReconciliationDiscrepancy,
} from '../entities/reconciliation-discrepancy.entity';
import { ReconciliationRun, RunStatus } from '../entities/reconciliation-run.entity';

@ValidatorConstraint({ name: 'billDate' })
class IsBillDate implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isBillDate(value);
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be a calendar date YYYY-MM-DD (Beijing)`;
  }
}

export class StartReconciliationDto {
  @ApiProperty({ enum: CHANNELS, example: 'alipay' })
  @IsIn(CHANNELS, { message: `channel must be one of ${CHANNELS.join(', ')}` })
  channel!: Channel;

  @ApiProperty({ example: '2024-01-01', description: 'the Beijing day whose bill is compared' })
  @IsString({ message: 'date must be a calendar date YYYY-MM-DD (Beijing)' })
  @Validate(IsBillDate)
  date!: string;
}

export class ListRunsQuery {
  @ApiPropertyOptional({ enum: CHANNELS })
  @IsOptional()
  @IsIn(CHANNELS, { message: `channel must be one of ${CHANNELS.join(', ')}` })
  channel?: Channel;

  @ApiPropertyOptional({ description: 'YYYY-MM-DD, Beijing' })
  @IsOptional()
  @IsString({ message: 'date must be a calendar date YYYY-MM-DD (Beijing)' })
  @Validate(IsBillDate)
  date?: string;
}

export class ListDiscrepanciesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DISCREPANCY_TYPES })
  @IsOptional()
  @IsIn(DISCREPANCY_TYPES, { message: `type must be one of ${DISCREPANCY_TYPES.join(', ')}` })
  type?: DiscrepancyType;

  @ApiPropertyOptional({
    type: Boolean,
    description: 'true: resolved (or healed) only; false: open only',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsBoolean({ message: 'resolved must be true or false' })
  resolved?: boolean;

  @ApiPropertyOptional({
    enum: ['json', 'csv'],
    description: 'csv: every matching discrepancy of the run as one CSV file',
  })
  @IsOptional()
  @IsIn(['json', 'csv'], { message: 'format must be json or csv' })
  format?: 'json' | 'csv';
}

export class ResolveDiscrepancyDto {
  @ApiProperty({ example: 'refunded by hand in the Alipay console, ticket 4711' })
  @IsString({ message: 'note must be text' })
  @Length(1, 1000, { message: 'note must be 1 to 1000 characters' })
  @Matches(/\S/, { message: 'note must not be blank' })
  @Matches(/^[^\p{Cc}]*$/u, { message: 'note must not contain control characters' })
  note!: string;
}

class RunCountsResponse {
  @ApiProperty({ description: 'rows on the bill' })
  channelRows!: number;
  @ApiProperty({ description: 'our succeeded payments and refunds of the day' })
  localRows!: number;
  @ApiProperty({ description: 'bill rows that agree with ours' })
  matched!: number;
  @ApiProperty()
  discrepancies!: number;
  @ApiProperty({
    description: 'discrepancies paygate fixed itself (they still count as discrepancies)',
  })
  healed!: number;
}

export class RunResponse {
  @ApiProperty({ example: 'rec_5hQm2XbT9kLw0Zp3Nv7cR1sY' })
  id!: string;
  @ApiProperty({ enum: CHANNELS })
  channel!: Channel;
  @ApiProperty({ example: '2024-01-01' })
  date!: string;
  @ApiProperty({ enum: RunStatus })
  status!: RunStatus;
  @ApiProperty({ format: 'date-time' })
  startedAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  finishedAt!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description: 'FAILED: why (for example, the bill is not ready yet)',
  })
  error!: string | null;
  @ApiProperty({ type: RunCountsResponse })
  counts!: RunCountsResponse;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '12.34000',
    description: "the channel's fees on the bill, yuan (recorded, not compared)",
  })
  feeTotal!: string | null;

  static of(r: ReconciliationRun): RunResponse {
    return {
      id: r.id,
      channel: r.channel,
      date: r.billDate,
      status: r.status,
      startedAt: r.startedAt.toISOString(),
      finishedAt: r.finishedAt?.toISOString() ?? null,
      error: r.error,
      counts: {
        channelRows: r.channelRows,
        localRows: r.localRows,
        matched: r.matched,
        discrepancies: r.discrepancies,
        healed: r.healed,
      },
      feeTotal: r.feeTotal,
    };
  }
}

export class RunListResponse {
  @ApiProperty({ type: [RunResponse] })
  items!: RunResponse[];
}

export class DiscrepancyResponse {
  @ApiProperty({ example: 'dsc_2Lw9Tq0bXk4mZp7sN1cV8rYa' })
  id!: string;
  @ApiProperty({ example: 'rec_5hQm2XbT9kLw0Zp3Nv7cR1sY' })
  runId!: string;
  @ApiProperty({ enum: DISCREPANCY_TYPES })
  type!: DiscrepancyType;
  @ApiProperty({ enum: ['payment', 'refund'] })
  kind!: 'payment' | 'refund';
  @ApiProperty({ nullable: true, type: String })
  outTradeNo!: string | null;
  @ApiProperty({ nullable: true, type: String })
  outRefundNo!: string | null;
  @ApiProperty({ nullable: true, type: String })
  channelTradeNo!: string | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'fen; null when the bill lacks the row',
  })
  channelAmount!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'fen; null when we lack the row' })
  localAmount!: number | null;
  @ApiProperty({ nullable: true, type: String, description: "the bill's word for the row" })
  channelStatus!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'our status of the payment or refund' })
  localStatus!: string | null;
  @ApiProperty()
  healed!: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  resolvedAt!: string | null;
  @ApiProperty({ nullable: true, type: String })
  note!: string | null;

  static of(d: ReconciliationDiscrepancy): DiscrepancyResponse {
    return {
      id: d.id,
      runId: d.runId,
      type: d.type,
      kind: d.kind,
      outTradeNo: d.outTradeNo,
      outRefundNo: d.outRefundNo,
      channelTradeNo: d.channelTradeNo,
      channelAmount: d.channelAmount,
      localAmount: d.localAmount,
      channelStatus: d.channelStatus,
      localStatus: d.localStatus,
      healed: d.healed,
      resolvedAt: d.resolvedAt?.toISOString() ?? null,
      note: d.note,
    };
  }
}

export class DiscrepancyPageResponse {
  @ApiProperty({ type: [DiscrepancyResponse] })
  items!: DiscrepancyResponse[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as cursor for the next page; null on the last page',
  })
  nextCursor!: string | null;
}
