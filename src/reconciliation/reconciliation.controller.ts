import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { mapPage } from '../common/pagination/keyset';
import {
  DiscrepancyPageResponse,
  DiscrepancyResponse,
  ListDiscrepanciesQuery,
  ListRunsQuery,
  ResolveDiscrepancyDto,
  RunListResponse,
  RunResponse,
  StartReconciliationDto,
} from './dto/reconciliation.dto';
import { ReconciliationService } from './reconciliation.service';

const CSV_COLUMNS: (keyof DiscrepancyResponse)[] = [
  'id',
  'runId',
  'type',
  'kind',
  'outTradeNo',
  'outRefundNo',
  'channelTradeNo',
  'channelAmount',
  'localAmount',
  'channelStatus',
  'localStatus',
  'healed',
  'resolvedAt',
  'note',
];

/** A text cell a spreadsheet would run as a formula is written with a leading quote. */
function cell(value: unknown): string | number | boolean | null {
  if (typeof value !== 'string') return value as number | boolean | null;
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

@ApiTags('admin')
@ApiBearerAuth('admin')
@Access('admin')
@Controller('admin/reconciliations')
export class ReconciliationController {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @Post()
  @ApiOperation({
    summary:
      "Compare a channel's bill of one Beijing day with our books (runs in the background; poll the run)",
    description:
      'A bill that is not ready yet is still a 201: the run ends FAILED with the reason in `error`. ' +
      'Running the same channel and date again makes a new run.',
  })
  @ApiResponse({ status: 201, type: RunResponse })
  @ErrorResponses(400, 401, 403, 'CHANNEL_NOT_CONFIGURED')
  async start(@Body() body: StartReconciliationDto): Promise<RunResponse> {
    return RunResponse.of(await this.reconciliation.start(body.channel, body.date));
  }

  @Get()
  @ApiOperation({ summary: 'Runs, newest first (at most 100), by channel and date' })
  @ApiOkResponse({ type: RunListResponse })
  @ErrorResponses(400, 401, 403)
  async list(@Query() q: ListRunsQuery): Promise<RunListResponse> {
    return { items: (await this.reconciliation.list(q)).map((r) => RunResponse.of(r)) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One run with its counts' })
  @ApiOkResponse({ type: RunResponse })
  @ErrorResponses(401, 403, 'RECONCILIATION_NOT_FOUND')
  async get(@Param('id') id: string): Promise<RunResponse> {
    return RunResponse.of(await this.reconciliation.get(id));
  }

  @Get(':id/discrepancies')
  @ApiOperation({
    summary:
      "A run's discrepancies by type and resolution, newest first; `format=csv` gives them all as CSV",
  })
  @ApiOkResponse({ type: DiscrepancyPageResponse })
  @ApiProduces('application/json', 'text/csv')
  @ErrorResponses(400, 401, 403, 'RECONCILIATION_NOT_FOUND')
  async discrepancies(
    @Param('id') id: string,
    @Query() q: ListDiscrepanciesQuery,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DiscrepancyPageResponse | void> {
    if (q.format !== 'csv') {
      return mapPage(await this.reconciliation.discrepancies(id, q), (d) =>
        DiscrepancyResponse.of(d),
      );
    }
    const rows = this.reconciliation.allDiscrepancies(id, { ...q, cursor: undefined });
    const iterator = rows[Symbol.asyncIterator]();
    // The first page is read before the answer starts, so an unknown run is still a clean 404.
    const first = await iterator.next();
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${id}-discrepancies.csv"`);
    async function* records(): AsyncGenerator<unknown[]> {
      for (let next = first; !next.done; next = await iterator.next()) {
        const d = DiscrepancyResponse.of(next.value);
        yield CSV_COLUMNS.map((c) => cell(d[c]));
      }
    }
    await pipeline(
      Readable.from(records()),
      stringify({ header: true, columns: CSV_COLUMNS, bom: true }),
      res,
    );
  }

  @Post('discrepancies/:id/resolve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mark a discrepancy resolved, with a note saying what was done' })
  @ApiOkResponse({ type: DiscrepancyResponse })
  @ErrorResponses(400, 401, 403, 'DISCREPANCY_NOT_FOUND', 'DISCREPANCY_RESOLVED')
  async resolve(
    @Param('id') id: string,
    @Body() body: ResolveDiscrepancyDto,
  ): Promise<DiscrepancyResponse> {
    return DiscrepancyResponse.of(await this.reconciliation.resolve(id, body.note));
  }
}
