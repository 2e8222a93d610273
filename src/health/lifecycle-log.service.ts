import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';

/** Says when paygate is asked to stop, and when it has (jobs and connections closed). */
@Injectable()
export class LifecycleLogService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Lifecycle');

  beforeApplicationShutdown(signal?: string): void {
    this.logger.log(`stopping${signal ? ` on ${signal}` : ''}: finishing what is in flight`);
  }

  onApplicationShutdown(signal?: string): void {
    this.logger.log(`stopped${signal ? ` (${signal})` : ''}`);
  }
}
