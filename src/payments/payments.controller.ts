import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
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
  @ApiCreatedResponse({ type: PaymentResponse })
  @ErrorResponses(400, 401, 403, 'ORDER_NOT_FOUND', 'ORDER_NOT_PAYABLE', 413, 502, 503)
  async create(
    @Param('id') orderId: string,
    @Body() dto: CreatePaymentDto,
  ): Promise<PaymentResponse> {
    const { payment } = await this.payments.create(orderId, dto);
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
