import { Global, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig } from '../config/database.config';
import { buildDataSourceOptions } from './data-source-options';
import { JobLeaseService } from './job-lease.service';
import { StatementTimeout } from './statement-timeout';
import { UnitOfWork } from './unit-of-work';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (db: ConfigType<typeof databaseConfig>) => ({
        ...buildDataSourceOptions(db),
        // Boot applies pending migrations, so `npm start` on an empty database just works.
        migrationsRun: true,
        retryAttempts: 3,
        retryDelay: 1000,
      }),
    }),
  ],
  providers: [UnitOfWork, JobLeaseService, StatementTimeout],
  exports: [UnitOfWork, JobLeaseService],
})
export class DatabaseModule {}
