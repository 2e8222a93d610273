import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One Prometheus registry per app instance (tests run several in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'paygate_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'paygate_channel_notifications_total',
    help: 'Channel notifications received, by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly channelCalls = new Histogram({
    name: 'paygate_channel_call_duration_seconds',
    help: 'Outbound channel API calls by channel, method and result',
    labelNames: ['channel', 'method', 'result'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'paygate_webhook_attempts_total',
    help: 'Merchant webhook delivery attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly wechatCertificateFetches = new Counter({
    name: 'paygate_wechat_certificate_fetches_total',
    help: 'GET /v3/certificates fetches of the WeChat Pay platform certificates, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly transactionUnits = new Histogram({
    name: 'paygate_db_units_per_commit',
    help: 'SQLite: units of work (notifications, state changes) committed together per transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'paygate_' });
  }
}
