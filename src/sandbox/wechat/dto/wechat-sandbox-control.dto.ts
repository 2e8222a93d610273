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
  REFUND_END_STATES,
  REFUND_FAULTS,
} from '../wechat-sandbox.types';
import type {
  NotifyMode,
  NotifyTamper,
  RefundFailure,
  RefundFaultKind,
} from '../wechat-sandbox.types';

export class PaySandboxTradeDto {
  @ApiPropertyOptional({
    enum: NOTIFY_MODES,
    default: 'normal',
    description:
      'normal: notify and retry on WeChat’s schedule until a 200/204; duplicate: the first try goes out twice at once; drop: no notification; delay: first try after delayMs',
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

  @ApiPropertyOptional({
    default: false,
    description:
      'Pay a CLOSED trade anyway, to exercise late payments. Real WeChat Pay never does this.',
  })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export class NotifySandboxTradeDto {
  @ApiPropertyOptional({
    enum: NOTIFY_TAMPERS,
    description:
      'signature: a Wechatpay-Signature that does not verify; amount: validly signed and encrypted, amount off by 1 fen; mchid: validly signed, another mchid. Tampered notifications are sent once, without retries.',
  })
  @IsOptional()
  @IsIn(NOTIFY_TAMPERS)
  tamper?: NotifyTamper;

  @ApiPropertyOptional({
    description: 'Re-send this finished refund’s REFUND.* notification instead of the payment’s',
    example: 'R20240101000001',
    maxLength: 64,
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  outRefundNo?: string;
}

export class RefundFaultDto {
  @ApiProperty({
    enum: REFUND_FAULTS,
    description:
      'fail: accepted (PROCESSING), then ends CLOSED (or endsAs) and sends REFUND.CLOSED / REFUND.ABNORMAL; not_enough: refused at once with 403 NOT_ENOUGH, nothing created; system_error: an unsure 500 SYSTEM_ERROR, nothing created; delay: accepted at once but answered after delayMs — past WECHAT_TIMEOUT_MS paygate sees a timeout',
  })
  @IsIn(REFUND_FAULTS)
  outcome!: RefundFaultKind;

  @ApiPropertyOptional({
    enum: REFUND_END_STATES,
    default: 'CLOSED',
    description: 'With outcome=fail: how the refund ends',
  })
  @IsOptional()
  @IsIn(REFUND_END_STATES)
  endsAs?: RefundFailure;

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

const DIGITS = /^\d{1,12}$/;
const TOKEN = /^[0-9A-Za-z]{1,64}$/;

/** What wx.requestPayment / WeixinJSBridge receives for a JSAPI prepay_id. */
export class JsapiClientPayDto {
  @ApiProperty({ example: 'wxd678efh567hg6787', maxLength: 32 })
  @IsString()
  @MaxLength(32)
  appId!: string;

  @ApiProperty({ example: '1704081600', description: 'Unix seconds, as a string' })
  @IsString()
  @Matches(DIGITS)
  timeStamp!: string;

  @ApiProperty({ example: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS' })
  @IsString()
  @Matches(TOKEN)
  nonceStr!: string;

  @ApiProperty({ example: 'prepay_id=wx20240101120000123456789012345678901234', maxLength: 128 })
  @IsString()
  @MaxLength(128)
  package!: string;

  @ApiProperty({ example: 'RSA' })
  @IsString()
  @MaxLength(16)
  signType!: string;

  @ApiProperty({
    description: 'SHA256withRSA of appId\\ntimeStamp\\nnonceStr\\npackage\\n, base64',
  })
  @IsString()
  @MaxLength(1024)
  paySign!: string;
}

/** What the WeChat app SDK (PayReq) receives for an APP prepay_id. */
export class AppClientPayDto {
  @ApiProperty({ example: 'wxd678efh567hg6787', maxLength: 32 })
  @IsString()
  @MaxLength(32)
  appid!: string;

  @ApiProperty({ example: '1230000109', description: 'the mchid' })
  @IsString()
  @MaxLength(32)
  partnerid!: string;

  @ApiProperty({ example: 'wx20240101120000123456789012345678901234', maxLength: 64 })
  @IsString()
  @MaxLength(64)
  prepayid!: string;

  @ApiProperty({ example: 'Sign=WXPay' })
  @IsString()
  @MaxLength(32)
  package!: string;

  @ApiProperty({ example: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS' })
  @IsString()
  @Matches(TOKEN)
  noncestr!: string;

  @ApiProperty({ example: '1704081600' })
  @IsString()
  @Matches(DIGITS)
  timestamp!: string;

  @ApiProperty({
    description: 'SHA256withRSA of appid\\ntimestamp\\nnoncestr\\nprepayid\\n, base64',
  })
  @IsString()
  @MaxLength(1024)
  sign!: string;
}

export class CertificatesOutageDto {
  /** true: GET /v3/certificates drops the connection; false: it answers again. */
  @IsBoolean()
  down!: boolean;
}
