import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { CreateRefundDto } from './dto/create-refund.dto';
import { RefundListResponse, RefundResponse } from './dto/refund.response';
import { RefundsService } from './refunds.service';

/** Merchant refunds. A client secret is refused (403): refunds are the shop's decision. */
@ApiTags('refunds')
@ApiBearerAuth('merchant')
@Access('merchant')
@Controller('api')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Post('orders/:id/refunds')
  @ApiOperation({
    summary: 'Refund part or all of a paid order',
    description:
      'The amount is reserved on the order before the channel is called, so refunds never add up to more than was paid, ' +
      'however many run at once. Alipay answers at once (SUCCEEDED or FAILED); an unsure answer, or WeChat Pay, leaves the ' +
      'refund PENDING until a notification or the sync job settles it. `refund.succeeded` / `refund.failed` webhooks follow.',
  })
  @ApiBody({
    type: CreateRefundDto,
    examples: {
      refund: { summary: 'Refund ¥1.00', value: { merchantRefundNo: 'RF-1001', amount: 100 } },
      withReason: {
        summary: 'With a reason shown to the buyer',
        value: { merchantRefundNo: 'RF-1002', amount: 100, reason: 'one cup broken' },
      },
    },
  })
  @ApiResponse({ status: 201, type: RefundResponse, description: 'created' })
  @ApiResponse({
    status: 200,
    type: RefundResponse,
    description: 'the same merchantRefundNo and amount again: the existing refund',
  })
  @ErrorResponses(
    400,
    401,
    403,
    'ORDER_NOT_FOUND',
    'REFUND_EXCEEDS_PAID',
    'REFUND_CONFLICT',
    'ORDER_NOT_REFUNDABLE',
    413,
  )
  async create(
    @Param('id') orderId: string,
    @Body() dto: CreateRefundDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RefundResponse> {
    const { refund, created } = await this.refunds.create(orderId, dto);
    res.status(created ? 201 : 200);
    return RefundResponse.of(refund);
  }

  @Get('orders/:id/refunds')
  @ApiOperation({
    summary: "An order's refunds, oldest first, including those paygate made by itself",
  })
  @ApiOkResponse({ type: RefundListResponse })
  @ErrorResponses(401, 403, 'ORDER_NOT_FOUND')
  async listForOrder(@Param('id') orderId: string): Promise<RefundListResponse> {
    return { items: (await this.refunds.listForOrder(orderId)).map((r) => RefundResponse.of(r)) };
  }

  @Get('refunds/:id')
  @ApiOperation({ summary: 'One refund' })
  @ApiOkResponse({ type: RefundResponse })
  @ErrorResponses(401, 403, 'REFUND_NOT_FOUND')
  async get(@Param('id') id: string): Promise<RefundResponse> {
    return RefundResponse.of(await this.refunds.get(id));
  }
}
