import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { MAX_AMOUNT_FEN } from '../../common/money/money';

export class CreateRefundDto {
  /** The storefront's own number for this refund; asking again with it is safe. */
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantRefundNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantRefundNo!: string;

  /** Amount to refund in fen; at most what was paid less what is refunded or being refunded. */
  @IsInt({ message: 'amount must be an integer number of fen' })
  @Min(1, { message: 'amount must be at least 1 fen' })
  @Max(MAX_AMOUNT_FEN, { message: `amount must be at most ${MAX_AMOUNT_FEN} fen` })
  amount!: number;

  /** Shown to the buyer by the channel (WeChat Pay keeps the first 80 characters). */
  @IsOptional()
  @IsString()
  @Length(1, 256)
  @Matches(/^[^\p{Cc}]*$/u, { message: 'reason must not contain control characters' })
  reason?: string;
}
