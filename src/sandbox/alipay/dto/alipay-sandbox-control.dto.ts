import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import {
  NOTIFY_MODES,
  NOTIFY_TAMPERS,
  PAID_STATUSES,
  REFUND_FAULTS,
} from '../alipay-sandbox.types';
import type {
  NotifyMode,
  NotifyTamper,
  PaidStatus,
  RefundFaultKind,
} from '../alipay-sandbox.types';

export class PaySandboxTradeDto {
  @ApiPropertyOptional({
    enum: NOTIFY_MODES,
    default: 'normal',
    description:
      'normal: notify and retry on Alipay’s schedule; duplicate: the first try goes out twice at once; drop: no notification; delay: first try after delayMs',
  })
  @IsOptional()
  @IsIn(NOTIFY_MODES)
  notify?: NotifyMode;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 600_000,
    example: 2000,
    description: 'With notify=delay',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600_000)
  delayMs?: number;

  @ApiPropertyOptional({ enum: PAID_STATUSES, default: 'TRADE_SUCCESS' })
  @IsOptional()
  @IsIn(PAID_STATUSES)
  status?: PaidStatus;

  @ApiPropertyOptional({
    default: false,
    description:
      'Pay a TRADE_CLOSED (unrefunded) trade anyway, to exercise late payments. Real Alipay never does this.',
  })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export class MarkPaidSandboxTradeDto {
  @ApiPropertyOptional({ enum: PAID_STATUSES, default: 'TRADE_SUCCESS' })
  @IsOptional()
  @IsIn(PAID_STATUSES)
  status?: PaidStatus;
}

export class NotifySandboxTradeDto {
  @ApiPropertyOptional({
    enum: NOTIFY_TAMPERS,
    description:
      'signature: a signature that does not verify; amount: validly signed, total_amount off by 0.01; app_id: validly signed, another app_id. Tampered notifications are sent once, without retries.',
  })
  @IsOptional()
  @IsIn(NOTIFY_TAMPERS)
  tamper?: NotifyTamper;
}

export class OpenAppPaymentDto {
  @ApiProperty({
    description: 'The order string the merchant server produced for alipay.trade.app.pay',
    example: 'app_id=2021000000000000&method=alipay.trade.app.pay&…&sign=…',
    maxLength: 16_384,
  })
  @IsString()
  @MaxLength(16_384)
  orderString!: string;
}

export class RefundFaultDto {
  @ApiProperty({
    enum: REFUND_FAULTS,
    description:
      'fail: refused for certain (ACQ.SELLER_BALANCE_NOT_ENOUGH), nothing refunded; system_error: an unsure ACQ.SYSTEM_ERROR, nothing refunded; delay: refunded at once but answered after delayMs — past ALIPAY_TIMEOUT_MS paygate sees a timeout',
  })
  @IsIn(REFUND_FAULTS)
  outcome!: RefundFaultKind;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 1000,
    default: 1,
    description: 'how many refund calls meet it',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  times?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 600_000,
    default: 30_000,
    description: 'With outcome=delay',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600_000)
  delayMs?: number;
}

export class AnswerCertSnDto {
  @ApiProperty({
    example: '0123456789abcdef0123456789abcdef',
    description:
      'Certificate mode: the alipay_cert_sn the next successful answer about this trade names instead of the sandbox certificate’s',
  })
  @IsString()
  @Matches(/^[0-9a-f]{32}$/)
  alipayCertSn!: string;
}
