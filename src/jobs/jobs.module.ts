import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { DeliverWebhooksJob } from './deliver-webhooks.job';

/**
 * Schedules only (design.md, "Jobs and many instances"). Each job is a thin
 * class that, when JOBS_ENABLED, runs a PollLoop around one method of the
 * service that owns the work. To add one (close expired orders, sync pending
 * payments…): write it like DeliverWebhooksJob, import the module exporting
 * its service, list it in providers. Jobs that are not safe row by row take a
 * JobLeaseService lease inside their loop.
 */
@Module({
  imports: [ScheduleModule.forRoot(), WebhooksModule],
  providers: [DeliverWebhooksJob],
})
export class JobsModule {}
