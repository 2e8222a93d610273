import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsIP, IsOptional, IsString, IsUrl, Matches, MaxLength } from 'class-validator';
import { CHANNELS, Channel, PAYMENT_METHODS, PaymentMethod } from '../payment-provider';

export class CreatePaymentDto {
  @ApiProperty({ enum: CHANNELS, example: 'alipay' })
  @IsIn(CHANNELS, { message: `channel must be one of ${CHANNELS.join(', ')}` })
  channel!: Channel;

  @ApiProperty({
    enum: PAYMENT_METHODS,
    description:
      'qr (Alipay precreate), page (PC web), wap (mobile web), app (Alipay app SDK), jsapi/h5 (WeChat).',
    example: 'qr',
  })
  @IsIn(PAYMENT_METHODS, { message: `method must be one of ${PAYMENT_METHODS.join(', ')}` })
  method!: PaymentMethod;

  @ApiPropertyOptional({ description: 'WeChat JSAPI payer openid.' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,128}$/, {
    message: 'openid must be 1-128 characters of A-Z a-z 0-9 _ -',
  })
  openid?: string;

  @ApiPropertyOptional({ description: "The buyer's IPv4 or IPv6 address (WeChat H5 requires it)." })
  @IsOptional()
  @IsIP(undefined, { message: 'clientIp must be an IPv4 or IPv6 address' })
  clientIp?: string;

  @ApiPropertyOptional({
    description:
      "Where the channel sends the buyer's browser after page/WAP payment: an http(s) URL.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'returnUrl must be an http(s) URL' },
  )
  returnUrl?: string;
}
