import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { NotificationsService } from '../notifications/notifications.service';
import { OrderResponse } from '../orders/dto/order.response';
import { OrdersService } from '../orders/orders.service';
import { PaymentResponse } from '../payments/dto/payment.response';
import { PaymentsService } from '../payments/payments.service';
import { WebhookOutboxService } from '../webhooks/webhook-outbox.service';
import { NotificationsQuery, PageQuery, SearchOrdersQuery } from './dto/admin-queries.dto';

/** Read-only views for operators: find an order and see everything that happened to it. */
@ApiTags('admin')
@ApiBearerAuth('admin')
@Access('admin')
@Controller('admin')
export class AdminController {
  constructor(
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    private readonly notifications: NotificationsService,
    private readonly outbox: WebhookOutboxService,
  ) {}

  @Get('orders')
  @ApiOperation({
    summary: 'Search orders by status, creation date and merchantOrderNo (newest first)',
  })
  @ApiOkResponse({ type: [OrderResponse] })
  @ErrorResponses(400, 401, 403)
  async searchOrders(@Query() q: SearchOrdersQuery): Promise<OrderResponse[]> {
    const orders = await this.orders.search({ ...q, limit: q.limit ?? 50, offset: q.offset ?? 0 });
    return orders.map((o) => OrderResponse.of(o));
  }

  @Get('orders/:id')
  @ApiOperation({
    summary: 'An order with its payment attempts, channel notifications and merchant events',
  })
  @ErrorResponses(401, 403, 404)
  async order(@Param('id') id: string) {
    const order = await this.orders.get(id);
    const payments = await this.payments.listForOrder(id);
    const [notifications, events] = await Promise.all([
      this.notifications.listForTrades(payments.map((p) => p.outTradeNo)),
      this.outbox.listForOrder(id),
    ]);
    return {
      order: OrderResponse.of(order),
      payments: payments.map((p) => PaymentResponse.of(p)),
      notifications,
      events: events.map((e) => ({
        id: e.id,
        type: e.type,
        createdAt: e.createdAt.toISOString(),
        payload: e.payload,
      })),
    };
  }

  @Get('notifications')
  @ApiOperation({
    summary: 'The inbox of channel notifications, filtered by outcome (newest first)',
  })
  @ErrorResponses(400, 401, 403)
  notificationsInbox(@Query() q: NotificationsQuery) {
    return this.notifications.listByOutcome({ ...q, limit: q.limit ?? 50, offset: q.offset ?? 0 });
  }

  @Get('payments/to-refund')
  @ApiOperation({
    summary:
      'Payments that must be refunded: duplicates on an already paid order, and late payments under LATE_PAYMENT_POLICY=refund',
  })
  @ApiOkResponse({ type: [PaymentResponse] })
  @ErrorResponses(401, 403)
  async toRefund(@Query() q: PageQuery): Promise<PaymentResponse[]> {
    return (await this.payments.listToRefund(q.limit ?? 50)).map((p) => PaymentResponse.of(p));
  }
}
