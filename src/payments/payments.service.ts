import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, LessThanOrEqual, Not } from 'typeorm';
import { DomainError, notFound } from '../common/errors/domain-error';
import { newChannelNo, newId } from '../common/ids/ids';
import { keysetPage, Page, PageQuery } from '../common/pagination/keyset';
import { fenFromColumn } from '../common/money/money';
import { appConfig } from '../config/app.config';
import {
  columnList,
  execute,
  findById,
  hydrate,
  insertRow,
  select,
  updateIfStatus,
} from '../database/sql';
import { KeyedTable, rowsByTimeWindow, selectByKeys } from '../database/keyed-reads';
import { timeFromColumn } from '../database/sql-time';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { Order } from '../orders/entities/order.entity';
import { OrderStatus, isPayable } from '../orders/order-state';
import { OrdersService } from '../orders/orders.service';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { Payment, PaymentAnomaly, PaymentStatus } from './entities/payment.entity';
import { Channel, ChannelCallError, ChannelPaymentState } from './payment-provider';
import { ProviderRegistry } from './provider-registry';

/** What applying a channel's word about a trade did. */
export type ApplyResult =
  | {
      result:
        | 'paid'
        | 'late_accepted'
        | 'late_refund'
        | 'duplicate_payment'
        | 'attempt_closed'
        | 'unchanged';
      payment: TradeRef;
    }
  | { result: 'rejected'; reason: 'unknown_trade' | 'amount_mismatch' };

/** What applying a channel's word needs to know about an attempt. */
export interface TradeRef {
  id: string;
  orderId: string;
  outTradeNo: string;
  channel: Channel;
  amount: number;
  /** The attempt's order as the transaction first read it, in the same statement. */
  order: Order;
}

/** What reconciliation compares of an attempt with a channel's bill. */
export interface BookedPayment {
  id: string;
  outTradeNo: string;
  status: PaymentStatus;
  amount: number;
  paidAt: Date | null;
  channelTradeNo: string | null;
}

const BOOKED: KeyedTable = {
  table: 'payments',
  columns: 'id, out_trade_no, status, amount, paid_at, channel_trade_no',
  channelColumn: 'channel',
};

function bookedPayment(row: Record<string, unknown>): BookedPayment {
  return {
    id: row.id as string,
    outTradeNo: row.out_trade_no as string,
    status: row.status as PaymentStatus,
    amount: fenFromColumn(row.amount),
    paidAt: timeFromColumn(row.paid_at),
    channelTradeNo: (row.channel_trade_no as string | null) ?? null,
  };
}

/** Back-off between status queries of an attempt that has not been notified (minutes). */
const QUERY_BACKOFF_MINUTES = [1, 2, 5, 10, 30];

@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly orders: OrdersService,
    private readonly providers: ProviderRegistry,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /**
   * Starts (or resumes) paying an order. The attempt row is written before the
   * channel is called, so a notification for it always finds it, even if this
   * process dies right after the channel answered.
   */
  async create(
    orderId: string,
    dto: CreatePaymentDto,
    now = new Date(),
  ): Promise<{ payment: Payment; created: boolean }> {
    const order = await this.orders.get(orderId);
    this.assertPayable(order, now);
    const provider = this.providers.get(dto.channel);
    if (!provider.methods.includes(dto.method)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `method: ${dto.channel} supports ${provider.methods.join(', ')}, not ${dto.method}`,
      );
    }
    for (const field of provider.requires?.[dto.method] ?? []) {
      if (!dto[field]) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `${field}: required for ${dto.channel}/${dto.method}`,
          { fields: [field] },
        );
      }
    }
    const open = await this.dataSource.manager.findOne(Payment, {
      where: {
        orderId,
        channel: dto.channel,
        method: dto.method,
        status: PaymentStatus.PENDING,
        action: Not(IsNull()),
      },
      order: { createdAt: 'DESC' },
    });
    if (open) return { payment: open, created: false };

    const payment: Payment = {
      id: newId('pay'),
      orderId,
      outTradeNo: newChannelNo(now),
      channel: dto.channel,
      method: dto.method,
      amount: order.amount,
      status: PaymentStatus.PENDING,
      anomaly: null,
      channelTradeNo: null,
      action: null,
      clientIp: dto.clientIp ?? null,
      returnUrl: dto.returnUrl ?? null,
      openid: dto.openid ?? null,
      expiresAt: order.expiresAt,
      paidAt: null,
      closedAt: null,
      nextQueryAt: new Date(now.getTime() + QUERY_BACKOFF_MINUTES[0] * 60_000),
      queryAttempts: 0,
      refundDueAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.uow.run((tx) => insertRow(tx, Payment, payment));
    try {
      const { action } = await provider.createPayment({
        outTradeNo: payment.outTradeNo,
        amount: payment.amount,
        subject: order.subject,
        description: order.description,
        method: dto.method,
        expiresAt: order.expiresAt,
        returnUrl: dto.returnUrl,
        clientIp: dto.clientIp,
        openid: dto.openid,
      });
      payment.action = action;
      await this.uow.run((tx) =>
        updateIfStatus(tx, Payment, payment.id, [PaymentStatus.PENDING], {
          action,
          updatedAt: new Date(),
        }),
      );
    } catch (error) {
      // The trade may still exist at the channel (a timeout); FAILED attempts are still
      // closed with the order and a payment for them is still applied.
      await this.uow.run((tx) =>
        this.setStatus(tx, payment.id, [PaymentStatus.PENDING], PaymentStatus.FAILED),
      );
      this.logger.error(
        `payment ${payment.id} (${payment.outTradeNo}) for order ${orderId} could not be created: ${(error as Error).message}`,
      );
      throw channelFailure(error);
    }
    this.logger.log(
      `payment ${payment.id} (${payment.outTradeNo}) created on ${dto.channel}/${dto.method} for order ${orderId}`,
    );
    return { payment, created: true };
  }

  private assertPayable(order: Order, now: Date): void {
    if (isPayable(order, now)) return;
    const why = order.status === OrderStatus.PENDING ? 'expired' : order.status;
    throw new DomainError('ORDER_NOT_PAYABLE', `order ${order.id} is ${why} and cannot be paid`);
  }

  /**
   * The one path by which a channel's word about a trade changes state, whether
   * it came from a notification, a query or a close. Runs inside the caller's
   * transaction; every change is a conditional update, so applying the same
   * word twice, or concurrently, changes state once.
   */
  async applyChannelState(
    tx: Tx,
    channel: Channel,
    state: ChannelPaymentState,
    now = new Date(),
  ): Promise<ApplyResult> {
    const payment = await this.findTrade(tx, channel, state.outTradeNo);
    if (!payment) return { result: 'rejected', reason: 'unknown_trade' };
    if (state.amount !== undefined && state.amount !== payment.amount)
      return { result: 'rejected', reason: 'amount_mismatch' };

    if (state.status === 'CLOSED') {
      const closed = await this.setStatus(
        tx,
        payment.id,
        [PaymentStatus.PENDING],
        PaymentStatus.CLOSED,
        { closedAt: now, nextQueryAt: null },
      );
      return { result: closed ? 'attempt_closed' : 'unchanged', payment };
    }
    if (state.status !== 'PAID') return { result: 'unchanged', payment };

    const paidAt = state.paidAt ?? now;
    const won = await this.setStatus(
      tx,
      payment.id,
      [PaymentStatus.PENDING, PaymentStatus.CLOSED, PaymentStatus.FAILED],
      PaymentStatus.SUCCEEDED,
      { paidAt, channelTradeNo: state.channelTradeNo ?? null, nextQueryAt: null },
    );
    if (!won) return { result: 'unchanged', payment };

    const paidPatch: Partial<Order> = {
      paidAmount: payment.amount,
      channel: payment.channel,
      channelTradeNo: state.channelTradeNo ?? null,
      paidPaymentId: payment.id,
      paidAt,
    };
    if (await this.orders.transition(tx, payment.orderId, 'pay', paidPatch, now)) {
      // The update found the order PENDING. Nothing writes a PENDING order except a
      // transition out of PENDING, and none leads back (order-state.ts), so the row
      // now is the one read with the attempt plus this change: no need to read it again.
      const paid = OrdersService.afterTransition(payment.order, 'pay', paidPatch, now);
      await this.orders.emit(tx, paid, 'order.paid');
      this.logger.log(
        `order ${payment.orderId} paid by ${payment.outTradeNo} (${payment.amount} fen)`,
      );
      return { result: 'paid', payment };
    }
    const order = await this.orders.get(payment.orderId, tx);
    if (order.status === OrderStatus.CLOSED) {
      if (this.app.latePaymentPolicy === 'accept') {
        if (
          await this.orders.transition(
            tx,
            payment.orderId,
            'payAfterClose',
            { ...paidPatch, closedAt: null },
            now,
          )
        ) {
          await this.markAnomaly(tx, payment, 'LATE_ACCEPTED');
          await this.orders.emit(tx, await this.orders.get(payment.orderId, tx), 'order.paid');
          this.logger.warn(
            `late payment ${payment.outTradeNo} reopened closed order ${payment.orderId} as paid`,
          );
          return { result: 'late_accepted', payment };
        }
      } else {
        await this.markAnomaly(tx, payment, 'LATE_REFUND');
        this.logger.warn(
          `late payment ${payment.outTradeNo} on closed order ${payment.orderId}: to be refunded (LATE_PAYMENT_POLICY=refund)`,
        );
        return { result: 'late_refund', payment };
      }
    }
    // Paid already through another attempt: this money must go back.
    await this.markAnomaly(tx, payment, 'DUPLICATE');
    this.logger.warn(
      `duplicate payment ${payment.outTradeNo} on order ${payment.orderId} (paid by ${order.paidPaymentId}): to be refunded`,
    );
    return { result: 'duplicate_payment', payment };
  }

  /**
   * Closes an order: every attempt that may exist at a channel is closed there
   * first. If the channel says an attempt was paid, the order becomes PAID
   * through the same path as a notification, and is returned as such.
   */
  async closeOrder(orderId: string, now = new Date(), read?: Order): Promise<Order> {
    // `read`: the order as the caller just read it (the close job's batch); the
    // transition below is conditional either way.
    const order = read ?? (await this.orders.get(orderId));
    if (order.status === OrderStatus.CLOSED) return order;
    if (order.status !== OrderStatus.PENDING) {
      throw new DomainError(
        'ORDER_NOT_CLOSABLE',
        `order ${orderId} is ${order.status} and cannot be closed`,
      );
    }
    const attempts = await this.dataSource.manager.find(Payment, {
      where: { orderId, status: In([PaymentStatus.PENDING, PaymentStatus.FAILED]) },
    });
    const closedThere: Payment[] = [];
    for (const attempt of attempts) {
      try {
        if ((await this.closeAtChannel(attempt, now)) === 'closed') closedThere.push(attempt);
      } catch (error) {
        this.logger.error(
          `closing ${attempt.outTradeNo} of order ${orderId} on ${attempt.channel} failed: ${(error as Error).message}`,
        );
        // What the channels did close is recorded, so the next try does not close it again.
        if (closedThere.length > 0)
          await this.uow.run((tx) => this.markClosed(tx, closedThere, now));
        throw channelFailure(error);
      }
    }
    // The attempts the channels closed and the order, in one transaction.
    return this.uow.run(async (tx) => {
      await this.markClosed(tx, closedThere, now);
      const closed = await this.orders.transition(tx, orderId, 'close', { closedAt: now }, now);
      const after = await this.orders.get(orderId, tx);
      if (closed) {
        await this.orders.emit(tx, after, 'order.closed');
        this.logger.log(`order ${orderId} closed`);
      }
      return after;
    });
  }

  /**
   * Once an order is paid, its other open attempts are closed at their channels, so
   * the buyer cannot pay twice (design.md "close-other-attempts"). The state itself
   * is the record: an open attempt of a paid order is found again by every run until
   * it is closed, so a crash or a channel outage loses nothing, and two instances
   * only close the same trade twice, which channels answer calmly. A payment that
   * lands anyway is applied through the notification path: a duplicate, refunded.
   * Returns how many attempts it looked at.
   */
  async closeOtherAttempts(limit: number, now = new Date()): Promise<number> {
    const open = [PaymentStatus.PENDING, PaymentStatus.FAILED];
    const paid = [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED];
    const rows = await this.dataSource.manager
      .createQueryBuilder(Payment, 'p')
      .innerJoin(Order, 'o', 'o.id = p.order_id')
      .where('p.status IN (:...open)', { open })
      .andWhere('o.status IN (:...paid)', { paid })
      .andWhere('(o.paid_payment_id IS NULL OR o.paid_payment_id <> p.id)')
      .orderBy('p.created_at', 'ASC')
      .limit(limit)
      .getMany();
    for (const attempt of rows) {
      try {
        if ((await this.closeAttempt(attempt, now)) === 'paid')
          this.logger.warn(
            `attempt ${attempt.outTradeNo} of paid order ${attempt.orderId} was paid too: applied as a duplicate`,
          );
        else
          this.logger.log(
            `closed attempt ${attempt.outTradeNo} (${attempt.channel}/${attempt.method}) of paid order ${attempt.orderId}`,
          );
      } catch (error) {
        // Left open: the next run tries again.
        this.logger.warn(
          `closing attempt ${attempt.outTradeNo} of paid order ${attempt.orderId} on ${attempt.channel} failed: ${(error as Error).message}`,
        );
      }
    }
    return rows.length;
  }

  /**
   * Closes one attempt at its channel, then here. If the channel says it was paid,
   * that payment is applied through the notification path instead ('paid').
   */
  private async closeAttempt(attempt: Payment, now: Date): Promise<'closed' | 'paid'> {
    const outcome = await this.closeAtChannel(attempt, now);
    if (outcome === 'closed') await this.uow.run((tx) => this.markClosed(tx, [attempt], now));
    return outcome;
  }

  /**
   * Closes one attempt at its channel; 'closed' leaves recording it to the caller.
   * A channel that says the trade was paid gets asked for the payment, which is
   * applied through the notification path ('paid').
   */
  private async closeAtChannel(attempt: Payment, now: Date): Promise<'closed' | 'paid'> {
    const provider = this.providers.get(attempt.channel);
    if ((await provider.closePayment(attempt.outTradeNo)) === 'already_paid') {
      const state = await provider.queryPayment(attempt.outTradeNo);
      await this.uow.run((tx) => this.applyChannelState(tx, attempt.channel, state, now));
      return 'paid';
    }
    return 'closed';
  }

  /** Records attempts their channels closed (each a conditional update). */
  private async markClosed(tx: Tx, attempts: Payment[], now: Date): Promise<void> {
    for (const attempt of attempts) {
      await this.setStatus(
        tx,
        attempt.id,
        [PaymentStatus.PENDING, PaymentStatus.FAILED],
        PaymentStatus.CLOSED,
        { closedAt: now, nextQueryAt: null },
      );
    }
  }

  /**
   * Asks the channel about attempts that have heard nothing for a while, and
   * applies the answer through the notification path. Returns how many were checked.
   */
  async syncDue(limit: number, now = new Date()): Promise<number> {
    const due = await this.dataSource.manager.find(Payment, {
      where: { status: PaymentStatus.PENDING, nextQueryAt: LessThanOrEqual(now) },
      order: { nextQueryAt: 'ASC' },
      take: limit,
    });
    for (const payment of due) {
      try {
        const state = await this.providers.get(payment.channel).queryPayment(payment.outTradeNo);
        await this.uow.run(async (tx) => {
          const applied = await this.applyChannelState(tx, payment.channel, state, now);
          if (applied.result === 'unchanged' || applied.result === 'rejected') {
            await tx.update(
              Payment,
              { id: payment.id, status: PaymentStatus.PENDING },
              this.nextQuery(payment, now),
            );
          }
          if (applied.result === 'rejected') {
            this.logger.error(
              `query of ${payment.outTradeNo} disagrees with our records: ${applied.reason}`,
            );
          }
        });
      } catch (error) {
        this.logger.warn(`query of ${payment.outTradeNo} failed: ${(error as Error).message}`);
        await this.uow.run((tx) =>
          tx.update(
            Payment,
            { id: payment.id, status: PaymentStatus.PENDING },
            this.nextQuery(payment, now),
          ),
        );
      }
    }
    return due.length;
  }

  private nextQuery(payment: Payment, now: Date): Partial<Payment> {
    const attempts = payment.queryAttempts + 1;
    const minutes = QUERY_BACKOFF_MINUTES[Math.min(attempts, QUERY_BACKOFF_MINUTES.length - 1)];
    const next = new Date(now.getTime() + minutes * 60_000);
    // Past expiry the close job takes over; one last look just after it.
    const last = new Date(payment.expiresAt.getTime() + 60_000);
    return {
      queryAttempts: attempts,
      nextQueryAt: next < last ? next : now < last ? last : null,
      updatedAt: now,
    };
  }

  /** The attempts on `channel` under these out_trade_nos (a bill's batch), as reconciliation compares them. */
  async findBooked(channel: Channel, outTradeNos: readonly string[]): Promise<BookedPayment[]> {
    const rows = await selectByKeys(
      this.dataSource.manager,
      BOOKED,
      'out_trade_no',
      channel,
      outTradeNos,
    );
    return rows.map(bookedPayment);
  }

  /**
   * The out_trade_nos of succeeded attempts on `channel` with paid_at in [from, to), a
   * window of time at a time: how reconciliation reads a day of them without
   * holding it in memory (the index on channel, status, time and out_trade_no answers alone).
   */
  async *succeededKeysBetween(channel: Channel, from: Date, to: Date): AsyncGenerator<string[]> {
    const windows = rowsByTimeWindow(
      this.dataSource.manager,
      BOOKED,
      'paid_at',
      { channel, status: PaymentStatus.SUCCEEDED, from, to },
      'out_trade_no',
    );
    for await (const rows of windows) yield rows.map((r) => r.out_trade_no as string);
  }

  listForOrder(orderId: string): Promise<Payment[]> {
    return this.dataSource.manager.find(Payment, {
      where: { orderId },
      order: { createdAt: 'ASC' },
    });
  }

  /** Succeeded payments that must be refunded (duplicates, late payments under the refund policy), newest first. */
  listToRefund(query: PageQuery): Promise<Page<Payment>> {
    const qb = this.dataSource.manager
      .createQueryBuilder(Payment, 'p')
      .where('p.status = :status', { status: PaymentStatus.SUCCEEDED })
      .andWhere('p.anomaly IN (:...anomalies)', { anomalies: ['DUPLICATE', 'LATE_REFUND'] });
    return keysetPage(qb, 'p', 'createdAt', query);
  }

  private setStatus(
    tx: Tx,
    id: string,
    from: PaymentStatus[],
    to: PaymentStatus,
    patch: Partial<Payment> = {},
  ): Promise<boolean> {
    return updateIfStatus(tx, Payment, id, from, { ...patch, status: to, updatedAt: new Date() });
  }

  /**
   * Records why a paid attempt is not the order's payment. A duplicate, or a late
   * payment under the refund policy, is also marked due for an automatic refund in
   * this same transaction: the mark is the durable record the auto-refunds job
   * claims, so no crash or restart can lose it.
   */
  private async markAnomaly(tx: Tx, payment: TradeRef, anomaly: PaymentAnomaly): Promise<void> {
    const now = new Date();
    await execute(
      tx,
      'UPDATE payments SET anomaly = ?, refund_due_at = ?, updated_at = ? WHERE id = ?',
      [anomaly, anomaly === 'LATE_ACCEPTED' ? null : now, now, payment.id],
    );
  }

  /** Paid attempts paygate must refund by itself and has not started refunding yet. */
  findRefundDue(limit: number, now = new Date()): Promise<Payment[]> {
    return this.dataSource.manager.find(Payment, {
      where: { refundDueAt: LessThanOrEqual(now) },
      order: { refundDueAt: 'ASC' },
      take: limit,
    });
  }

  /**
   * Takes the automatic refund of a payment for the caller's transaction, which
   * writes that refund: true for exactly one caller, however many instances try.
   */
  async claimAutoRefund(tx: Tx, paymentId: string): Promise<boolean> {
    const changed = await execute(
      tx,
      'UPDATE payments SET refund_due_at = NULL WHERE id = ? AND refund_due_at IS NOT NULL',
      [paymentId],
    );
    return changed === 1;
  }

  async get(id: string, tx?: Tx): Promise<Payment> {
    const payment = await findById(tx ?? this.dataSource.manager, Payment, id);
    if (!payment) throw notFound('payment', id);
    return payment;
  }

  private tradeSql?: string;

  /**
   * The attempt a channel's trade number names, with its order (hot path: one
   * prepared SELECT, as the notification's first statement).
   */
  private async findTrade(
    tx: Tx,
    channel: Channel,
    outTradeNo: string,
  ): Promise<TradeRef | undefined> {
    const orders = tx.connection.getMetadata(Order);
    this.tradeSql ??=
      `SELECT p.id AS p_id, p.amount AS p_amount, ${columnList(orders, 'o', 'o_')} ` +
      'FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.out_trade_no = ? AND p.channel = ?';
    const [row] = await select<Record<string, unknown>>(tx, this.tradeSql, [outTradeNo, channel]);
    if (!row) return undefined;
    const order = hydrate<Order>(orders, row, 'o_');
    return {
      id: row.p_id as string,
      orderId: order.id,
      outTradeNo,
      channel,
      amount: fenFromColumn(row.p_amount),
      order,
    };
  }
}

/** A channel failure as the API reports it: 503 when the channel could not be reached, 502 when it refused. */
export function channelFailure(error: unknown): unknown {
  if (error instanceof ChannelCallError) {
    return new DomainError(
      error.kind === 'unavailable' ? 'CHANNEL_UNAVAILABLE' : 'CHANNEL_ERROR',
      error.message,
    );
  }
  return error;
}
