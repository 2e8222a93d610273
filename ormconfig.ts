// TypeORM CLI entry point (`npm run migration:run`): the same options the app uses.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadDatabaseConfig } from './src/config/database.config';
import { buildDataSourceOptions } from './src/database/data-source-options';

export default new DataSource(buildDataSourceOptions(loadDatabaseConfig(process.env)));
