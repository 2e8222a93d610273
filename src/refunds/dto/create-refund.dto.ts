import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { MAX_AMOUNT_FEN } from '../../common/money/money';

export class CreateRefundDto {
  @ApiProperty({
    description:
      "The storefront's own number for this refund (1-64 of A-Z a-z 0-9 _ -); asking again with it is safe.",
    example: 'RF-1001',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantRefundNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantRefundNo!: string;

  @ApiProperty({
    type: 'integer',
    description:
      'Amount to refund in fen; at most what was paid less what is refunded or being refunded.',
    minimum: 1,
    maximum: MAX_AMOUNT_FEN,
    example: 100,
  })
  @IsInt({ message: 'amount must be an integer number of fen' })
  @Min(1, { message: 'amount must be at least 1 fen' })
  @Max(MAX_AMOUNT_FEN, { message: `amount must be at most ${MAX_AMOUNT_FEN} fen` })
  amount!: number;

  @ApiPropertyOptional({
    description: 'Shown to the buyer by the channel (WeChat Pay keeps the first 80 characters).',
  })
  @IsOptional()
  @IsString()
  @Length(1, 256)
  @Matches(/^[^\p{Cc}]*$/u, { message: 'reason must not contain control characters' })
  reason?: string;
}
