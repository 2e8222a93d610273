import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThanOrEqual } from 'typeorm';
import { DomainError, notFound } from '../common/errors/domain-error';
import { newChannelNo, newId } from '../common/ids/ids';
import { keysetPage, Page, PageQuery } from '../common/pagination/keyset';
import { isUniqueViolation } from '../database/database-errors';
import { execute, findById, insertRow, updateIfStatus } from '../database/sql';
import { KeyedTable, rowsByTimeWindow, selectByKeys } from '../database/keyed-reads';
import { sqlTime, timeFromColumn } from '../database/sql-time';
import { fenFromColumn } from '../common/money/money';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { Order } from '../orders/entities/order.entity';
import { REFUNDABLE_STATUSES } from '../orders/order-state';
import { OrdersService } from '../orders/orders.service';
import { Payment } from '../payments/entities/payment.entity';
import { Channel, ChannelRefundState } from '../payments/payment-provider';
import { PaymentsService } from '../payments/payments.service';
import { ProviderRegistry } from '../payments/provider-registry';
import { WebhookOutboxService } from '../webhooks/webhook-outbox.service';
import { CreateRefundDto } from './dto/create-refund.dto';
import { ListRefundsQuery } from './dto/list-refunds.query';
import { RefundResponse } from './dto/refund.response';
import { Refund } from './entities/refund.entity';
import { RefundKind, RefundStatus } from './refund-state';

/**
 * Minutes between the sync job's looks at a PENDING refund. The first look waits
 * long enough for the API's own channel call (bounded by the client timeout) to
 * have answered; the last step repeats until the channel says for certain.
 */
const QUERY_BACKOFF_MINUTES = [1, 2, 5, 10, 30, 60];

/** A PENDING refund older than this is listed for admins (GET /admin/refunds/stuck). */
export const STUCK_AFTER_MS = 24 * 3600_000;

export interface CreateRefundResult {
  refund: Refund;
  /** False when merchantRefundNo already existed with the same amount. */
  created: boolean;
}

/**
 * Refunds (design.md invariant 3): the amount is reserved on the order, in the
 * transaction that writes the PENDING refund, before any channel is called. Only
 * the channel's certain "failed" gives the reservation back; an unsure answer
 * (timeout, 5xx, a dropped connection) leaves the refund PENDING, and the sync job
 * asks again, re-sending the same outRefundNo, never a new one.
 *
 * Refunds paygate makes by itself (duplicate and late payments) start from the
 * mark PaymentsService leaves on the payment in the transaction that found it;
 * they take no reservation and never count towards the order's refundedAmount.
 */
/** What reconciliation compares of a refund with a channel's bill. */
export interface BookedRefund {
  id: string;
  outRefundNo: string;
  outTradeNo: string;
  status: RefundStatus;
  amount: number;
  succeededAt: Date | null;
  channelRefundNo: string | null;
}

const BOOKED: KeyedTable = {
  table: 'refunds',
  columns: 'id, out_refund_no, out_trade_no, status, amount, succeeded_at, channel_refund_no',
  channelColumn: 'channel',
};

function bookedRefund(row: Record<string, unknown>): BookedRefund {
  return {
    id: row.id as string,
    outRefundNo: row.out_refund_no as string,
    outTradeNo: row.out_trade_no as string,
    status: row.status as RefundStatus,
    amount: fenFromColumn(row.amount),
    succeededAt: timeFromColumn(row.succeeded_at),
    channelRefundNo: (row.channel_refund_no as string | null) ?? null,
  };
}

@Injectable()
export class RefundsService {
  private readonly logger = new Logger(RefundsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly orders: OrdersService,
    private readonly payments: PaymentsService,
    private readonly providers: ProviderRegistry,
    private readonly outbox: WebhookOutboxService,
  ) {}

  // ---- merchant refunds ---------------------------------------------------------

  /** Idempotent per order on merchantRefundNo: the same amount again → the same refund; another → 409. */
  async create(
    orderId: string,
    dto: CreateRefundDto,
    now = new Date(),
  ): Promise<CreateRefundResult> {
    const reserved = await this.reserve(orderId, dto, now);
    if (!reserved.created) return reserved;
    return { refund: await this.submit(reserved.refund, now), created: true };
  }

  /**
   * The first half of a merchant refund: the PENDING row and the reservation,
   * committed together. After it, whatever happens to this process, the sync job
   * finishes the refund under the same outRefundNo.
   */
  async reserve(
    orderId: string,
    dto: CreateRefundDto,
    now = new Date(),
  ): Promise<CreateRefundResult> {
    const order = await this.orders.get(orderId);
    const existing = await this.findByMerchantNo(orderId, dto.merchantRefundNo);
    if (existing) return { refund: sameOrConflict(existing, dto), created: false };
    if (!REFUNDABLE_STATUSES.includes(order.status) || !order.paidPaymentId)
      throw notRefundable(order);
    const payment = await this.payments.get(order.paidPaymentId);
    await this.assertChannelAllows(payment, now);
    const refund = newRefund(payment, 'merchant', dto.amount, now, {
      merchantRefundNo: dto.merchantRefundNo,
      reason: dto.reason ?? null,
    });
    try {
      await this.uow.run(async (tx) => {
        if (!(await this.orders.reserveRefund(tx, orderId, dto.amount)))
          throw await this.whyNotReserved(tx, orderId, dto.amount);
        await insertRow(tx, Refund, refund);
      });
    } catch (error) {
      // A concurrent request with the same merchantRefundNo won; its reservation stands, ours rolled back.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.findByMerchantNo(orderId, dto.merchantRefundNo);
      if (!winner) throw error;
      return { refund: sameOrConflict(winner, dto), created: false };
    }
    this.logger.log(
      `refund ${refund.id} (${refund.outRefundNo}) of ${refund.amount} fen reserved on order ${orderId}`,
    );
    return { refund, created: true };
  }

  /**
   * The channel's own limits, said with a 409 before it is asked rather than a
   * channel error after. The count is read, not reserved: two refunds racing past
   * the 50th are refused by the channel, a certain failure that releases its amount.
   */
  private async assertChannelAllows(payment: Payment, now: Date): Promise<void> {
    const limits = this.providers.get(payment.channel).refundLimits;
    if (!limits) return;
    if (limits.withinDays !== undefined && payment.paidAt) {
      const deadline = payment.paidAt.getTime() + limits.withinDays * 86_400_000;
      if (now.getTime() > deadline) {
        throw new DomainError(
          'REFUND_NOT_ALLOWED',
          `${payment.channel} refunds a payment only within ${limits.withinDays} days; this one was paid on ${payment.paidAt.toISOString().slice(0, 10)}`,
        );
      }
    }
    if (limits.maxPerPayment !== undefined) {
      const made = await this.dataSource.manager
        .createQueryBuilder(Refund, 'r')
        .where('r.paymentId = :id AND r.status <> :failed', {
          id: payment.id,
          failed: RefundStatus.FAILED,
        })
        .getCount();
      if (made >= limits.maxPerPayment) {
        throw new DomainError(
          'REFUND_NOT_ALLOWED',
          `${payment.channel} allows at most ${limits.maxPerPayment} refunds of one payment; this one has ${made}`,
        );
      }
    }
  }

  private async whyNotReserved(tx: Tx, orderId: string, amount: number): Promise<DomainError> {
    const order = await this.orders.get(orderId, tx);
    if (!REFUNDABLE_STATUSES.includes(order.status)) return notRefundable(order);
    const remaining = order.paidAmount - order.refundedAmount - order.refundReserved;
    const inFlight =
      order.refundReserved > 0 ? ` (${order.refundReserved} fen in refunds still pending)` : '';
    return new DomainError(
      'REFUND_EXCEEDS_PAID',
      `amount: ${amount} fen is more than the ${Math.max(0, remaining)} fen that remain refundable on order ${orderId}${inFlight}`,
      { remaining: Math.max(0, remaining) },
    );
  }

  // ---- refunds paygate makes by itself --------------------------------------------

  /**
   * Starts the automatic refunds that are due: each payment's mark is claimed in
   * the transaction that writes its refund, so exactly one instance writes it, once.
   * Returns how many it started.
   */
  async startDueAutoRefunds(limit: number, now = new Date()): Promise<number> {
    const due = await this.payments.findRefundDue(limit, now);
    let started = 0;
    for (const payment of due) {
      const kind: RefundKind =
        payment.anomaly === 'DUPLICATE' ? 'duplicate_payment' : 'late_payment';
      // One automatic refund per payment, and a number derived from it: even a
      // second row could not become a second refund at the channel.
      const refund = newRefund(payment, kind, payment.amount, now, {
        outRefundNo: `A${payment.outTradeNo}`,
        reason: kind === 'duplicate_payment' ? 'duplicate payment' : 'paid after the order closed',
      });
      const claimed = await this.uow.run(async (tx) => {
        if (!(await this.payments.claimAutoRefund(tx, payment.id))) return false;
        await insertRow(tx, Refund, refund);
        return true;
      });
      if (!claimed) continue;
      started++;
      this.logger.warn(
        `automatic refund ${refund.id} (${kind}) of payment ${payment.outTradeNo} on order ${payment.orderId}: ${refund.amount} fen`,
      );
      await this.submit(refund, now);
    }
    return started;
  }

  // ---- talking to the channel -------------------------------------------------------

  /** Sends the refund to its channel and applies a certain answer; an unsure one leaves it PENDING. */
  private async submit(refund: Refund, now: Date): Promise<Refund> {
    let state: ChannelRefundState;
    try {
      state = await this.providers.get(refund.channel).refund({
        outTradeNo: refund.outTradeNo,
        outRefundNo: refund.outRefundNo,
        amount: refund.amount,
        totalAmount: refund.totalAmount,
        ...(refund.reason ? { reason: refund.reason } : {}),
      });
    } catch (error) {
      this.logger.warn(
        `refund ${refund.id} (${refund.outRefundNo}) on ${refund.channel}: outcome unknown, left PENDING for the sync job: ${(error as Error).message}`,
      );
      return this.get(refund.id);
    }
    return this.apply(refund, state, now);
  }

  /**
   * Asks the channel about PENDING refunds that are due, one claimed row at a
   * time (the claim moves next_query_at on, so instances share the rows). A
   * refund the channel never received is sent again with the same number.
   * Returns how many were looked at.
   */
  async syncDue(limit: number, now = new Date()): Promise<number> {
    const due = await this.dataSource.manager.find(Refund, {
      where: { status: RefundStatus.PENDING, nextQueryAt: LessThanOrEqual(now) },
      order: { nextQueryAt: 'ASC' },
      take: limit,
    });
    let looked = 0;
    for (const refund of due) {
      if (!(await this.claim(refund, now))) continue;
      looked++;
      const provider = this.providers.get(refund.channel);
      try {
        let state = await provider.queryRefund({
          outTradeNo: refund.outTradeNo,
          outRefundNo: refund.outRefundNo,
        });
        if (state.status === 'NOT_FOUND') {
          // It never reached the channel (a crash before the call, a lost request),
          // or the channel turned it down: the same number again decides which.
          this.logger.warn(
            `refund ${refund.id} (${refund.outRefundNo}) unknown to ${refund.channel}: sending it again`,
          );
          state = await provider.refund({
            outTradeNo: refund.outTradeNo,
            outRefundNo: refund.outRefundNo,
            amount: refund.amount,
            totalAmount: refund.totalAmount,
            ...(refund.reason ? { reason: refund.reason } : {}),
          });
        }
        await this.apply(refund, state, now);
      } catch (error) {
        this.logger.warn(
          `refund ${refund.id} (${refund.outRefundNo}) still unsure on ${refund.channel}, next look at ${refund.nextQueryAt?.toISOString()}: ${(error as Error).message}`,
        );
      }
    }
    return looked;
  }

  /** Moves next_query_at on by the back-off; true when this caller took the row. */
  private async claim(refund: Refund, now: Date): Promise<boolean> {
    const attempts = refund.queryAttempts + 1;
    const minutes = QUERY_BACKOFF_MINUTES[Math.min(attempts, QUERY_BACKOFF_MINUTES.length - 1)];
    const next = new Date(now.getTime() + minutes * 60_000);
    const changed = await this.uow.run((tx) =>
      execute(
        tx,
        'UPDATE refunds SET next_query_at = ?, query_attempts = ?, updated_at = ? ' +
          'WHERE id = ? AND status = ? AND next_query_at <= ? AND query_attempts = ?',
        [next, attempts, now, refund.id, RefundStatus.PENDING, now, refund.queryAttempts],
      ),
    );
    if (changed !== 1) return false;
    refund.nextQueryAt = next;
    refund.queryAttempts = attempts;
    return true;
  }

  /** A channel answer applied in a transaction of its own; returns the refund as it now is. */
  private async apply(refund: Refund, state: ChannelRefundState, now: Date): Promise<Refund> {
    if (state.status !== 'SUCCEEDED' && state.status !== 'FAILED') return this.get(refund.id);
    if (!this.agrees(refund, state)) return this.get(refund.id);
    return this.uow.run((tx) => this.settleIn(tx, refund, state, now));
  }

  /** A SUCCEEDED answer counts only with the expected amount: Alipay answers success for numbers it never saw. */
  private agrees(refund: Refund, state: ChannelRefundState): boolean {
    if (
      state.status !== 'SUCCEEDED' ||
      state.amount === undefined ||
      state.amount === refund.amount
    )
      return true;
    this.logger.error(
      `refund ${refund.id} (${refund.outRefundNo}): ${refund.channel} reports ${state.amount} fen refunded, we asked for ${refund.amount}; left PENDING for a person to look at`,
    );
    return false;
  }

  /**
   * PENDING → SUCCEEDED or FAILED, in the caller's transaction, with the order's
   * reservation turned into a refund or given back and the merchant's event.
   * Applying the same answer twice, or concurrently, changes state once.
   */
  private async settleIn(
    tx: Tx,
    refund: Refund,
    state: ChannelRefundState,
    now: Date,
  ): Promise<Refund> {
    const succeeded = state.status === 'SUCCEEDED';
    const won = await updateIfStatus(tx, Refund, refund.id, [RefundStatus.PENDING], {
      status: succeeded ? RefundStatus.SUCCEEDED : RefundStatus.FAILED,
      channelRefundNo: state.channelRefundNo ?? refund.channelRefundNo,
      ...(succeeded
        ? { succeededAt: now }
        : {
            failedAt: now,
            failureReason: (state.failureReason ?? 'refused by the channel').slice(0, 512),
          }),
      nextQueryAt: null,
      updatedAt: now,
    });
    const after = await this.get(refund.id, tx);
    if (!won) return after;
    let order: Order;
    if (refund.kind !== 'merchant') order = await this.orders.get(refund.orderId, tx);
    else if (succeeded)
      order = await this.orders.applyRefund(tx, refund.orderId, refund.amount, now);
    else {
      await this.orders.releaseRefund(tx, refund.orderId, refund.amount);
      order = await this.orders.get(refund.orderId, tx);
    }
    await this.outbox.enqueue(
      tx,
      {
        type: succeeded ? 'refund.succeeded' : 'refund.failed',
        orderId: refund.orderId,
        refundId: refund.id,
        data: RefundResponse.of(after),
        notifyUrl: order.notifyUrl,
      },
      now,
    );
    if (succeeded)
      this.logger.log(
        `refund ${refund.id} (${refund.kind}) of ${refund.amount} fen succeeded; order ${order.id} is ${order.status}, ${order.refundedAmount} fen refunded`,
      );
    else
      this.logger.warn(
        `refund ${refund.id} (${refund.kind}) of ${refund.amount} fen failed: ${after.failureReason}`,
      );
    return after;
  }

  /**
   * A verified refund notification, inside the inbox row's transaction. It never
   * pays, re-opens or closes anything: a stated outcome (WeChat Pay) settles the
   * refund like any channel answer; a bare "something happened" (Alipay) makes
   * the sync job ask at once.
   */
  async onNotification(
    tx: Tx,
    channel: Channel,
    ref: { outRefundNo?: string; state?: ChannelRefundState },
    now = new Date(),
  ): Promise<void> {
    const refund = ref.outRefundNo
      ? await tx.findOneBy(Refund, { channel, outRefundNo: ref.outRefundNo })
      : null;
    if (!refund) {
      this.logger.warn(
        `${channel} refund notification for ${ref.outRefundNo ?? '(no refund number)'}, a refund paygate did not make`,
      );
      return;
    }
    if (refund.status !== RefundStatus.PENDING) return;
    const state = ref.state;
    if (
      state &&
      (state.status === 'SUCCEEDED' || state.status === 'FAILED') &&
      this.agrees(refund, state)
    ) {
      await this.settleIn(tx, refund, state, now);
      return;
    }
    await execute(tx, 'UPDATE refunds SET next_query_at = ? WHERE id = ? AND status = ?', [
      now,
      refund.id,
      RefundStatus.PENDING,
    ]);
  }

  /**
   * Reconciliation found this refund done on the channel's bill while we hold
   * it PENDING: ask the channel now instead of at the next back-off step, and
   * settle it as the sync job would. Returns the refund as it now is.
   */
  async recheck(refundId: string, now = new Date()): Promise<Refund> {
    const refund = await this.get(refundId);
    if (refund.status !== RefundStatus.PENDING) return refund;
    const state = await this.providers
      .get(refund.channel)
      .queryRefund({ outTradeNo: refund.outTradeNo, outRefundNo: refund.outRefundNo });
    return this.apply(refund, state, now);
  }

  /** The refunds on `channel` under these out_refund_nos (a bill's batch), as reconciliation compares them. */
  async findBooked(channel: Channel, outRefundNos: readonly string[]): Promise<BookedRefund[]> {
    const rows = await selectByKeys(
      this.dataSource.manager,
      BOOKED,
      'out_refund_no',
      channel,
      outRefundNos,
    );
    return rows.map(bookedRefund);
  }

  /**
   * The out_refund_nos of succeeded refunds on `channel` with succeeded_at in [from, to), a
   * window of time at a time: how reconciliation reads a day of them without
   * holding it in memory (the index on channel, status, time and out_refund_no answers alone).
   */
  async *succeededKeysBetween(channel: Channel, from: Date, to: Date): AsyncGenerator<string[]> {
    const windows = rowsByTimeWindow(
      this.dataSource.manager,
      BOOKED,
      'succeeded_at',
      { channel, status: RefundStatus.SUCCEEDED, from, to },
      'out_refund_no',
    );
    for await (const rows of windows) yield rows.map((r) => r.out_refund_no as string);
  }

  // ---- reading --------------------------------------------------------------------------

  async get(id: string, tx?: Tx): Promise<Refund> {
    const refund = await findById(tx ?? this.dataSource.manager, Refund, id);
    if (!refund) throw notFound('refund', id);
    return refund;
  }

  private findByMerchantNo(orderId: string, merchantRefundNo: string): Promise<Refund | null> {
    return this.dataSource.manager.findOneBy(Refund, { orderId, merchantRefundNo });
  }

  /** An order's refunds, oldest first (merchant API and admin order view). */
  async listForOrder(orderId: string): Promise<Refund[]> {
    await this.orders.get(orderId);
    return this.dataSource.manager.find(Refund, {
      where: { orderId },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
  }

  listForPayments(paymentIds: string[]): Promise<Refund[]> {
    if (paymentIds.length === 0) return Promise.resolve([]);
    return this.dataSource.manager
      .createQueryBuilder(Refund, 'r')
      .where('r.payment_id IN (:...ids)', { ids: paymentIds })
      .orderBy('r.created_at', 'ASC')
      .getMany();
  }

  /** Admin list, newest first. */
  search(query: ListRefundsQuery): Promise<Page<Refund>> {
    const qb = this.dataSource.manager.createQueryBuilder(Refund, 'r');
    if (query.status) qb.andWhere('r.status = :status', { status: query.status });
    if (query.kind) qb.andWhere('r.kind = :kind', { kind: query.kind });
    if (query.orderId) qb.andWhere('r.orderId = :orderId', { orderId: query.orderId });
    return keysetPage(qb, 'r', 'createdAt', query);
  }

  /** PENDING for more than a day: the channel keeps saying "not yet", or cannot be reached. */
  listStuck(query: PageQuery, now = new Date()): Promise<Page<Refund>> {
    const qb = this.dataSource.manager
      .createQueryBuilder(Refund, 'r')
      .where('r.status = :status', { status: RefundStatus.PENDING })
      .andWhere('r.createdAt < :before', {
        before: sqlTime(new Date(now.getTime() - STUCK_AFTER_MS)),
      });
    return keysetPage(qb, 'r', 'createdAt', query);
  }
}

function newRefund(
  payment: Payment,
  kind: RefundKind,
  amount: number,
  now: Date,
  extra: { merchantRefundNo?: string; outRefundNo?: string; reason: string | null },
): Refund {
  return {
    id: newId('ref'),
    orderId: payment.orderId,
    paymentId: payment.id,
    channel: payment.channel,
    outTradeNo: payment.outTradeNo,
    kind,
    merchantRefundNo: extra.merchantRefundNo ?? null,
    outRefundNo: extra.outRefundNo ?? newChannelNo(now),
    amount,
    totalAmount: payment.amount,
    status: RefundStatus.PENDING,
    reason: extra.reason,
    failureReason: null,
    channelRefundNo: null,
    // The caller's own channel call answers first; the sync job only picks up what it left unsure.
    nextQueryAt: new Date(now.getTime() + QUERY_BACKOFF_MINUTES[0] * 60_000),
    queryAttempts: 0,
    createdAt: now,
    succeededAt: null,
    failedAt: null,
    updatedAt: now,
  };
}

function sameOrConflict(existing: Refund, dto: CreateRefundDto): Refund {
  if (existing.amount === dto.amount) return existing;
  throw new DomainError(
    'REFUND_CONFLICT',
    `merchantRefundNo ${JSON.stringify(dto.merchantRefundNo)} already exists on this order with amount ${existing.amount} fen`,
  );
}

function notRefundable(order: Order): DomainError {
  return new DomainError(
    'ORDER_NOT_REFUNDABLE',
    `order ${order.id} is ${order.status}: only a paid order can be refunded`,
  );
}
