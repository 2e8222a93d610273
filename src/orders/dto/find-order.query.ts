import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';

export class FindOrderQuery {
  @ApiProperty({
    description: 'your own order number, as given when creating the order (e.g. SO-1001)',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, {
    message: 'merchantOrderNo must be 1-64 characters of A-Z a-z 0-9 _ -',
  })
  merchantOrderNo!: string;
}
