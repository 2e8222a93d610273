import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { newId } from '../common/ids/ids';
import { keysetPage, Page, PageQuery } from '../common/pagination/keyset';
import { isUniqueViolation } from '../database/database-errors';
import { Tx, UnitOfWork } from '../database/unit-of-work';
import { insertRow } from '../database/sql';
import { MetricsService } from '../metrics/metrics.service';
import {
  Channel,
  ChannelPaymentState,
  NotificationRejected,
  RawNotification,
  RawReply,
  VerifiedNotification,
} from '../payments/payment-provider';
import { ApplyResult, PaymentsService } from '../payments/payments.service';
import { ProviderRegistry } from '../payments/provider-registry';
import { RefundsService } from '../refunds/refunds.service';
import { ChannelNotification } from './entities/channel-notification.entity';

const IDENTITY_REASONS = new Set(['app_id', 'seller_id', 'mch_id']);

/**
 * Receives channel callbacks. A notification changes state only after its
 * signature and identity (provider) and its trade and amount (payments) check
 * out; the inbox row, the state change and the merchant event commit in one
 * transaction, and the channel hears "ok" only after that commit.
 */
@Injectable()
export class NotificationsService {
  private readonly logger = new Logger(NotificationsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly providers: ProviderRegistry,
    private readonly payments: PaymentsService,
    private readonly refunds: RefundsService,
    private readonly metrics: MetricsService,
  ) {}

  async receive(channel: Channel, raw: RawNotification, now = new Date()): Promise<RawReply> {
    const provider = this.providers.get(channel);
    let verified: VerifiedNotification;
    try {
      verified = await provider.verifyNotification(raw);
    } catch (error) {
      if (!(error instanceof NotificationRejected)) throw error;
      return this.reject(channel, raw, error, now, provider.acknowledge('rejected'));
    }
    try {
      const outcome = await this.uow.run((tx) => this.process(tx, channel, raw, verified, now));
      this.metrics.notifications.inc({ channel, outcome: outcome.split(':')[0] });
      if (outcome.startsWith('rejected:')) {
        // Validly signed, yet it does not match our records: a person must look.
        this.logger.error(
          `${channel} notification for ${verified.state.outTradeNo} rejected (${outcome}): signed by the channel but does not match our records`,
        );
        return provider.acknowledge('rejected');
      }
      return provider.acknowledge('ok');
    } catch (error) {
      // Nothing was committed; "retry" makes the channel send it again.
      this.metrics.notifications.inc({ channel, outcome: 'error' });
      this.logger.error(
        `${channel} notification for ${verified.state.outTradeNo} failed, channel asked to retry: ${(error as Error).message}`,
      );
      return provider.acknowledge('retry');
    }
  }

  /**
   * A channel's answer to a query paygate made for a reason other than a
   * missing notification (reconciliation found the trade paid on the bill),
   * applied through the same path as a notification: one transaction with an
   * inbox row that says where it came from (`source_ip` is the origin, the body
   * names it), the state change, the merchant event and whatever `alongside`
   * writes (the caller's own record of it). Applying the same
   * origin again is a recorded duplicate that changes nothing.
   */
  async applyQueried(
    channel: Channel,
    state: ChannelPaymentState,
    origin: { source: 'reconciliation'; ref: string },
    now = new Date(),
    alongside?: (tx: Tx, applied: ApplyResult) => Promise<void>,
  ): Promise<ApplyResult> {
    return this.uow.run(async (tx) => {
      const applied = await this.payments.applyChannelState(tx, channel, state, now);
      const row: ChannelNotification = {
        id: newId('ntf'),
        channel,
        dedupeKey: `${origin.source}:${origin.ref}:${state.outTradeNo}`.slice(0, 191),
        kind: 'payment',
        outTradeNo: state.outTradeNo,
        sourceIp: origin.source,
        verified: true,
        outcome: applied.result === 'rejected' ? `rejected:${applied.reason}` : 'processed',
        body: {
          source: origin.source,
          ref: origin.ref,
          status: state.status,
          amount: state.amount ?? null,
          channelTradeNo: state.channelTradeNo ?? null,
          paidAt: state.paidAt?.toISOString() ?? null,
        },
        receivedAt: now,
      };
      if (!(await this.insertFirst(tx, row))) {
        row.dedupeKey = `${row.dedupeKey.slice(0, 150)}#${row.id}`;
        if (applied.result !== 'rejected') row.outcome = 'duplicate';
        await insertRow(tx, ChannelNotification, row);
      }
      if (alongside) await alongside(tx, applied);
      this.metrics.notifications.inc({ channel, outcome: row.outcome.split(':')[0] });
      return applied;
    });
  }

  private async process(
    tx: Tx,
    channel: Channel,
    raw: RawNotification,
    verified: VerifiedNotification,
    now: Date,
  ): Promise<string> {
    let outcome = 'processed';
    if (verified.kind === 'payment') {
      const applied = await this.payments.applyChannelState(tx, channel, verified.state, now);
      if (applied.result === 'rejected') outcome = `rejected:${applied.reason}`;
    } else if (verified.kind === 'refund' && verified.refund) {
      // Never a payment's word: a refund notification's trade status (TRADE_CLOSED after
      // a full refund) must not close, pay or re-open anything.
      await this.refunds.onNotification(tx, channel, verified.refund, now);
    }
    const row: ChannelNotification = {
      id: newId('ntf'),
      channel,
      dedupeKey: verified.dedupeKey,
      kind: verified.kind,
      outTradeNo: verified.state.outTradeNo,
      sourceIp: raw.sourceIp.slice(0, 64),
      verified: true,
      outcome,
      body: verified.auditBody,
      receivedAt: now,
    };
    if (!(await this.insertFirst(tx, row))) {
      // Another receipt of this notification holds its dedupe key: this one is a copy.
      // Its conditional updates above changed nothing (the first receipt's did).
      row.dedupeKey = `${verified.dedupeKey.slice(0, 150)}#${row.id}`;
      if (!outcome.startsWith('rejected:')) row.outcome = 'duplicate';
      await insertRow(tx, ChannelNotification, row);
    }
    return row.outcome;
  }

  /**
   * Inserts the first receipt under its dedupe key; false when the key was
   * already taken. A refused INSERT undoes only itself on SQLite and MySQL, so
   * the transaction goes on.
   */
  private async insertFirst(tx: Tx, row: ChannelNotification): Promise<boolean> {
    try {
      await insertRow(tx, ChannelNotification, row);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  private async reject(
    channel: Channel,
    raw: RawNotification,
    error: NotificationRejected,
    now: Date,
    reply: RawReply,
  ): Promise<RawReply> {
    const outcome = `rejected:${error.reason}`;
    this.metrics.notifications.inc({ channel, outcome: 'rejected' });
    const message = `${channel} notification from ${raw.sourceIp} rejected (${outcome}): ${error.message}`;
    if (IDENTITY_REASONS.has(error.reason)) this.logger.error(message);
    else this.logger.warn(message);
    try {
      await this.uow.run((tx) =>
        insertRow(tx, ChannelNotification, {
          id: newId('ntf'),
          channel,
          // Unverified content cannot claim a dedupe key a genuine notification may need.
          dedupeKey: `unverified:${newId('ntf')}`,
          kind: 'unknown',
          outTradeNo: error.outTradeNo ?? null,
          sourceIp: raw.sourceIp.slice(0, 64),
          verified: false,
          outcome,
          body: error.auditBody,
          receivedAt: now,
        }),
      );
    } catch (dbError) {
      this.logger.error(
        `could not record a rejected ${channel} notification: ${(dbError as Error).message}`,
      );
    }
    return reply;
  }

  /** The inbox, newest first, by outcome (any `rejected:` reason for `rejected`), channel and trade. */
  listByOutcome(
    filter: PageQuery & { outcome?: string; channel?: string; outTradeNo?: string },
  ): Promise<Page<ChannelNotification>> {
    const qb = this.dataSource.manager.createQueryBuilder(ChannelNotification, 'n');
    if (filter.outcome) {
      if (filter.outcome === 'rejected') qb.andWhere('n.outcome LIKE :o', { o: 'rejected:%' });
      else qb.andWhere('n.outcome = :o', { o: filter.outcome });
    }
    if (filter.channel) qb.andWhere('n.channel = :c', { c: filter.channel });
    if (filter.outTradeNo) qb.andWhere('n.outTradeNo = :t', { t: filter.outTradeNo });
    return keysetPage(qb, 'n', 'receivedAt', filter);
  }

  listForTrades(outTradeNos: string[]): Promise<ChannelNotification[]> {
    if (outTradeNos.length === 0) return Promise.resolve([]);
    return this.dataSource.manager
      .createQueryBuilder(ChannelNotification, 'n')
      .where('n.out_trade_no IN (:...nos)', { nos: outTradeNos })
      .orderBy('n.received_at', 'ASC')
      .getMany();
  }
}
