import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { OrderResponse } from '../orders/dto/order.response';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { PaymentResponse } from './dto/payment.response';
import { PaymentsService } from './payments.service';

@ApiBearerAuth('merchant')
@Controller('api/orders/:id')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post('payments')
  @Access('merchant', 'client')
  @ApiTags('payments')
  @ApiOperation({
    summary: 'Start paying the order on a channel',
    description:
      'Answers the action the client takes next (render a QR code, redirect, hand an order string to the app). ' +
      'While an attempt for the same channel and method is open, calling again returns the same action. ' +
      'Only a PENDING, unexpired order is payable (else 409 ORDER_NOT_PAYABLE).',
  })
  @ApiBody({
    type: CreatePaymentDto,
    examples: {
      qr: { summary: 'Alipay QR code', value: { channel: 'alipay', method: 'qr' } },
      page: {
        summary: 'Alipay desktop web page, back to the shop afterwards',
        value: {
          channel: 'alipay',
          method: 'page',
          returnUrl: 'https://shop.example.com/orders/SO-1001',
        },
      },
    },
  })
  @ApiSecurity('client')
  @ApiHeader({
    name: 'X-Client-Secret',
    required: false,
    description: "the order's clientSecret, for storefront frontends",
  })
  @ApiCreatedResponse({ type: PaymentResponse, description: 'a new attempt' })
  @ApiOkResponse({
    type: PaymentResponse,
    description: 'an attempt for this channel and method is already open: the same one',
  })
  @ErrorResponses(400, 401, 403, 'ORDER_NOT_FOUND', 'ORDER_NOT_PAYABLE', 413, 502, 503)
  async create(
    @Param('id') orderId: string,
    @Body() dto: CreatePaymentDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PaymentResponse> {
    const { payment, created } = await this.payments.create(orderId, dto);
    // As with orders: 201 for what this call made, 200 for what was already there.
    res.status(created ? 201 : 200);
    return PaymentResponse.of(payment);
  }

  @Post('close')
  @Access('merchant')
  @HttpCode(200)
  @ApiTags('orders')
  @ApiOperation({
    summary: 'Close an unpaid order',
    description:
      'Closes every open attempt at the channel first; answers the order PAID if the channel says it was paid meanwhile. ' +
      'Closing a CLOSED order again answers it as it is.',
  })
  @ApiOkResponse({ type: OrderResponse })
  @ErrorResponses(401, 403, 'ORDER_NOT_FOUND', 'ORDER_NOT_CLOSABLE', 502, 503)
  async close(@Param('id') orderId: string): Promise<OrderResponse> {
    return OrderResponse.of(await this.payments.closeOrder(orderId));
  }
}
