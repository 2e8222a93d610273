import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, notFound } from '../common/errors/domain-error';
import { newClientSecret, newId } from '../common/ids/ids';
import { keysetPage, Page, PageQuery } from '../common/pagination/keyset';
import { appConfig } from '../config/app.config';
import { isUniqueViolation } from '../database/database-errors';
import { execute, findById, insertRow, updateIfStatus } from '../database/sql';
import { sqlTime } from '../database/sql-time';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { WebhookOutboxService } from '../webhooks/webhook-outbox.service';
import { CreateOrderDto } from './dto/create-order.dto';
import { OrderResponse } from './dto/order.response';
import { Order } from './entities/order.entity';
import { ORDER_TRANSITIONS, OrderEvent, OrderStatus, REFUNDABLE_STATUSES } from './order-state';

export interface CreateOrderResult {
  order: Order;
  /** False when merchantOrderNo already existed with the same content. */
  created: boolean;
}

@Injectable()
export class OrdersService {
  private readonly logger = new Logger(OrdersService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outbox: WebhookOutboxService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /** Idempotent on merchantOrderNo: same amount and subject → the existing order; different → 409. */
  async create(dto: CreateOrderDto, now = new Date()): Promise<CreateOrderResult> {
    const order = this.dataSource.manager.create(Order, {
      id: newId('ord'),
      merchantOrderNo: dto.merchantOrderNo,
      amount: dto.amount,
      currency: 'CNY',
      subject: dto.subject,
      description: dto.description ?? null,
      status: OrderStatus.PENDING,
      paidAmount: 0,
      refundedAmount: 0,
      refundReserved: 0,
      channel: null,
      channelTradeNo: null,
      paidPaymentId: null,
      clientSecret: newClientSecret(),
      notifyUrl: dto.notifyUrl ?? null,
      returnUrl: dto.returnUrl ?? null,
      metadata: dto.metadata ?? null,
      expiresAt: new Date(
        now.getTime() + (dto.expireSeconds ?? this.app.orderExpireSeconds) * 1000,
      ),
      paidAt: null,
      closedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.uow.run((tx) => insertRow(tx, Order, order));
      this.logger.log(`order ${order.id} created (${order.merchantOrderNo}, ${order.amount} fen)`);
      if (!this.outbox.delivers(order.notifyUrl)) {
        this.logger.warn(
          `order ${order.id} has no notifyUrl and MERCHANT_WEBHOOK_URL is not set: no webhook will tell the merchant it was paid`,
        );
      }
      return { order, created: true };
    } catch (error) {
      // The merchantOrderNo exists already: a repeat, or a concurrent create that won.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.findByMerchantOrderNo(dto.merchantOrderNo);
      if (!winner) throw error;
      return { order: this.sameOrConflict(winner, dto), created: false };
    }
  }

  private sameOrConflict(existing: Order, dto: CreateOrderDto): Order {
    if (existing.amount === dto.amount && existing.subject === dto.subject) return existing;
    throw new DomainError(
      'ORDER_CONFLICT',
      `merchantOrderNo ${JSON.stringify(dto.merchantOrderNo)} already exists with a different amount or subject`,
    );
  }

  async get(id: string, tx?: Tx): Promise<Order> {
    const order = await findById(tx ?? this.dataSource.manager, Order, id);
    if (!order) throw notFound('order', id);
    return order;
  }

  findByMerchantOrderNo(merchantOrderNo: string): Promise<Order | null> {
    return this.dataSource.manager.findOneBy(Order, { merchantOrderNo });
  }

  async getByMerchantOrderNo(merchantOrderNo: string): Promise<Order> {
    const order = await this.findByMerchantOrderNo(merchantOrderNo);
    if (!order)
      throw new DomainError(
        'ORDER_NOT_FOUND',
        `no order with merchantOrderNo ${JSON.stringify(merchantOrderNo)}`,
      );
    return order;
  }

  async findIdByClientSecret(clientSecret: string): Promise<string | undefined> {
    const order = await this.dataSource.manager.findOne(Order, {
      where: { clientSecret },
      select: { id: true },
    });
    return order?.id;
  }

  /**
   * Applies one transition of order-state.ts as a conditional update inside
   * the caller's transaction. Returns false, changing nothing, when the order
   * is no longer in a state the transition starts from.
   */
  async transition(
    tx: Tx,
    id: string,
    event: OrderEvent,
    patch: Partial<Order> = {},
    now = new Date(),
  ): Promise<boolean> {
    return updateIfStatus(
      tx,
      Order,
      id,
      ORDER_TRANSITIONS[event].from,
      transitionSet(event, patch, now),
    );
  }

  /**
   * The order as `transition` left it, from the row as it was before. Only for a
   * caller that knows no other write reached the row in between.
   */
  static afterTransition(
    before: Order,
    event: OrderEvent,
    patch: Partial<Order>,
    now: Date,
  ): Order {
    return { ...before, ...transitionSet(event, patch, now) };
  }

  /** Records the order's event for the merchant, with the order as it is now in this transaction. */
  async emit(tx: Tx, order: Order, type: 'order.paid' | 'order.closed'): Promise<void> {
    await this.outbox.enqueue(tx, {
      type,
      orderId: order.id,
      data: OrderResponse.of(order, { withClientSecret: false }),
      notifyUrl: order.notifyUrl,
    });
  }

  // ---- refunds (design.md invariant 3) -------------------------------------------------
  // The order holds `refund_reserved` for merchant refunds in flight. Each of these is
  // one conditional UPDATE, so concurrent refunds on any number of instances can
  // never together reserve or refund more than was paid.

  /**
   * Reserves `amount` for a refund: true when refunded + reserved + amount still
   * fits within what was paid and the order is refundable, false (nothing changed) otherwise.
   */
  async reserveRefund(tx: Tx, id: string, amount: number): Promise<boolean> {
    const changed = await execute(
      tx,
      `UPDATE orders SET refund_reserved = refund_reserved + ? WHERE id = ? AND status IN (${marks(REFUNDABLE_STATUSES)}) ` +
        'AND refunded_amount + refund_reserved + ? <= paid_amount',
      [amount, id, ...REFUNDABLE_STATUSES, amount],
    );
    return changed === 1;
  }

  /** Gives a reservation back: the channel said for certain that the refund failed. */
  async releaseRefund(tx: Tx, id: string, amount: number): Promise<void> {
    const changed = await execute(
      tx,
      'UPDATE orders SET refund_reserved = refund_reserved - ? WHERE id = ? AND refund_reserved >= ?',
      [amount, id, amount],
    );
    if (changed !== 1) throw new Error(`order ${id} holds no reservation of ${amount} fen`);
  }

  /**
   * Turns a reservation into a refund: refundedAmount grows by `amount` and the
   * order becomes PARTIALLY_REFUNDED, or REFUNDED once all that was paid is back.
   * Returns the order as it now is.
   */
  async applyRefund(tx: Tx, id: string, amount: number, now = new Date()): Promise<Order> {
    const { from } = ORDER_TRANSITIONS.refundFully;
    // status is assigned first: MySQL evaluates SET left to right with the new
    // values, SQLite with the old ones; first, both read the row as it was.
    const changed = await execute(
      tx,
      'UPDATE orders SET status = CASE WHEN refunded_amount + ? >= paid_amount THEN ? ELSE ? END, ' +
        'refunded_amount = refunded_amount + ?, refund_reserved = refund_reserved - ?, updated_at = ? ' +
        `WHERE id = ? AND status IN (${marks(from)}) AND refund_reserved >= ?`,
      [
        amount,
        ORDER_TRANSITIONS.refundFully.to,
        ORDER_TRANSITIONS.refundPartially.to,
        amount,
        amount,
        now,
        id,
        ...from,
        amount,
      ],
    );
    if (changed !== 1)
      throw new Error(`order ${id} holds no reservation of ${amount} fen to refund`);
    return this.get(id, tx);
  }

  /** Orders newest first, by status, creation time and merchantOrderNo; one page. */
  search(filter: OrderSearch): Promise<Page<Order>> {
    const qb = this.dataSource.manager.createQueryBuilder(Order, 'o');
    if (filter.status) qb.andWhere('o.status = :status', { status: filter.status });
    if (filter.merchantOrderNo)
      qb.andWhere('o.merchantOrderNo = :no', { no: filter.merchantOrderNo });
    if (filter.createdFrom)
      qb.andWhere('o.createdAt >= :from', { from: sqlTime(filter.createdFrom) });
    if (filter.createdTo) qb.andWhere('o.createdAt < :to', { to: sqlTime(filter.createdTo) });
    return keysetPage(qb, 'o', 'createdAt', filter);
  }

  /** Pending orders whose time is up, for the close-expired job. */
  findExpired(limit: number, now = new Date()): Promise<Order[]> {
    return this.dataSource.manager
      .createQueryBuilder(Order, 'o')
      .where('o.status = :status AND o.expires_at <= :now', { status: OrderStatus.PENDING, now })
      .orderBy('o.expires_at', 'ASC')
      .take(limit)
      .getMany();
  }
}

const marks = (values: readonly unknown[]): string => values.map(() => '?').join(', ');

/** What a transition writes besides the caller's patch: the new status and the time. */
function transitionSet(event: OrderEvent, patch: Partial<Order>, now: Date): Partial<Order> {
  return { ...patch, status: ORDER_TRANSITIONS[event].to, updatedAt: now };
}

export interface OrderSearch extends PageQuery {
  status?: OrderStatus;
  merchantOrderNo?: string;
  createdFrom?: Date;
  createdTo?: Date;
}
