import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { mapPage, PageQuery } from '../common/pagination/keyset';
import { NotificationsService } from '../notifications/notifications.service';
import { OrderPageResponse, OrderResponse } from '../orders/dto/order.response';
import { OrdersService } from '../orders/orders.service';
import { PaymentResponse } from '../payments/dto/payment.response';
import { PaymentsService } from '../payments/payments.service';
import { ListRefundsQuery } from '../refunds/dto/list-refunds.query';
import { RefundPageResponse, RefundResponse } from '../refunds/dto/refund.response';
import { RefundsService } from '../refunds/refunds.service';
import { WebhookOutboxService } from '../webhooks/webhook-outbox.service';
import { NotificationsQuery, SearchOrdersQuery } from './dto/admin-queries.dto';

/** Read-only views for operators: find an order and see everything that happened to it. */
@ApiTags('admin')
@ApiBearerAuth('admin')
@Access('admin')
@Controller('admin')
export class AdminController {
  constructor(
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    private readonly refunds: RefundsService,
    private readonly notifications: NotificationsService,
    private readonly outbox: WebhookOutboxService,
  ) {}

  @Get('orders')
  @ApiOperation({
    summary: 'Search orders by status, creation date and merchantOrderNo (newest first)',
  })
  @ApiOkResponse({ type: OrderPageResponse })
  @ErrorResponses(400, 401, 403)
  async searchOrders(@Query() q: SearchOrdersQuery): Promise<OrderPageResponse> {
    return mapPage(await this.orders.search(q), (o) => OrderResponse.of(o));
  }

  @Get('orders/:id')
  @ApiOperation({
    summary: 'An order with its payment attempts, channel notifications and merchant events',
  })
  @ErrorResponses(401, 403, 'ORDER_NOT_FOUND')
  async order(@Param('id') id: string) {
    const order = await this.orders.get(id);
    const payments = await this.payments.listForOrder(id);
    const [notifications, events, refunds] = await Promise.all([
      this.notifications.listForTrades(payments.map((p) => p.outTradeNo)),
      this.outbox.listForOrder(id),
      this.refunds.listForOrder(id),
    ]);
    return {
      order: OrderResponse.of(order),
      payments: payments.map((p) => PaymentResponse.of(p)),
      refunds: refunds.map((r) => RefundResponse.of(r)),
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
    return this.notifications.listByOutcome(q);
  }

  @Get('payments/to-refund')
  @ApiOperation({
    summary:
      'Payments that must be refunded: duplicates on an already paid order, and late payments under LATE_PAYMENT_POLICY=refund',
  })
  @ErrorResponses(401, 403)
  async toRefund(@Query() q: PageQuery) {
    const page = await this.payments.listToRefund(q);
    const refunds = await this.refunds.listForPayments(page.items.map((p) => p.id));
    return mapPage(page, (p) => {
      // null until the auto-refunds job has started it (within one poll interval)
      const refund = refunds.find((r) => r.paymentId === p.id && r.kind !== 'merchant');
      return {
        payment: PaymentResponse.of(p),
        anomaly: p.anomaly,
        refund: refund ? RefundResponse.of(refund) : null,
      };
    });
  }

  @Get('refunds')
  @ApiOperation({
    summary: 'Refunds of every kind, newest first, filtered by status, kind and order',
  })
  @ApiOkResponse({ type: RefundPageResponse })
  @ErrorResponses(400, 401, 403)
  async searchRefunds(@Query() q: ListRefundsQuery): Promise<RefundPageResponse> {
    return mapPage(await this.refunds.search(q), (r) => RefundResponse.of(r));
  }

  @Get('refunds/stuck')
  @ApiOperation({
    summary:
      'Refunds still PENDING more than a day after they were asked for (the channel keeps saying "not yet", or cannot be reached), newest first',
  })
  @ApiOkResponse({ type: RefundPageResponse })
  @ErrorResponses(400, 401, 403)
  async stuckRefunds(@Query() q: PageQuery): Promise<RefundPageResponse> {
    return mapPage(await this.refunds.listStuck(q), (r) => RefundResponse.of(r));
  }
}
