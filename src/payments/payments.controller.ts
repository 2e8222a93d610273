import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { OrderResponse } from '../orders/dto/order.response';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { PaymentResponse } from './dto/payment.response';
import { PaymentsService } from './payments.service';

@ApiTags('orders')
@ApiBearerAuth('merchant')
@Controller('api/orders/:id')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  /**
   * Starts paying the order on a channel. While an attempt for the same channel
   * and method is open, calling again returns the same action.
   */
  @Post('payments')
  @Access('merchant', 'client')
  @ApiSecurity('client')
  @ApiHeader({
    name: 'X-Client-Secret',
    required: false,
    description: "the order's clientSecret, for storefront frontends",
  })
  @ApiCreatedResponse({ type: PaymentResponse })
  @ErrorResponses(400, 401, 403, 404, 409, 502, 503)
  async create(
    @Param('id') orderId: string,
    @Body() dto: CreatePaymentDto,
  ): Promise<PaymentResponse> {
    const { payment } = await this.payments.create(orderId, dto);
    return PaymentResponse.of(payment);
  }

  /** Closes the order after the channel confirms; answers PAID if the channel says it was paid meanwhile. */
  @Post('close')
  @Access('merchant')
  @HttpCode(200)
  @ApiOkResponse({ type: OrderResponse })
  @ErrorResponses(401, 403, 404, 409, 502, 503)
  async close(@Param('id') orderId: string): Promise<OrderResponse> {
    return OrderResponse.of(await this.payments.closeOrder(orderId));
  }
}
