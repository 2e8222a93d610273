import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { MAX_AMOUNT_FEN } from '../../common/money/money';

const METADATA_MAX_BYTES = 4096;

function MaxJsonBytes(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxJsonBytes',
      validator: {
        validate: (value: unknown) =>
          Buffer.byteLength(JSON.stringify(value ?? null), 'utf8') <= max,
        defaultMessage: () => `$property must serialize to at most ${max} bytes of JSON`,
      },
    },
    options,
  );
}

function IsPlainObject(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPlainObject',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' && value !== null && !Array.isArray(value),
        defaultMessage: () => '$property must be a JSON object',
      },
    },
    options,
  );
}

export class CreateOrderDto {
  @ApiProperty({
    description:
      "The storefront's own order number (1-64 of A-Z a-z 0-9 _ -); creating twice with it is safe.",
    example: 'SO-1001',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo!: string;

  @ApiProperty({
    type: 'integer',
    description: 'Amount in fen (CNY cents): 100 = ¥1.00.',
    minimum: 1,
    maximum: MAX_AMOUNT_FEN,
    example: 8880,
  })
  @IsInt({ message: 'amount must be an integer number of fen' })
  @Min(1, { message: 'amount must be at least 1 fen' })
  @Max(MAX_AMOUNT_FEN, { message: `amount must be at most ${MAX_AMOUNT_FEN} fen` })
  amount!: number;

  @ApiProperty({ description: 'Shown to the buyer by the channel.', example: 'Blue mug' })
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\p{Cc}]*$/u, { message: 'subject must not contain control characters' })
  subject!: string;

  @ApiPropertyOptional({ description: 'For your own records; at most 512 characters.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  description?: string;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Seconds the order stays payable (60 to 15 days); default ORDER_EXPIRE_SECONDS.',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(15 * 24 * 3600)
  expireSeconds?: number;

  @ApiPropertyOptional({
    description:
      "Where this order's webhooks go, an http(s) URL such as https://shop.example.com/hooks/paygate; default MERCHANT_WEBHOOK_URL.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'notifyUrl must be an http(s) URL' },
  )
  notifyUrl?: string;

  @ApiPropertyOptional({
    description:
      'Where the hosted checkout page (GET /checkout/:id?cs=<clientSecret>) sends the buyer once the order is paid: ' +
      'an http(s) URL of at most 1024 characters, such as https://shop.example.com/orders/SO-1001.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @IsUrl(
    {
      protocols: ['http', 'https'],
      require_protocol: true,
      require_tld: false,
      disallow_auth: true,
    },
    { message: 'returnUrl must be an http(s) URL without user name or password' },
  )
  returnUrl?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Free-form JSON object (≤ 4 KB) echoed back in the order and its webhooks.',
  })
  @IsOptional()
  @IsObject()
  @IsPlainObject()
  @MaxJsonBytes(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;
}
