import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { FinanceMetrics } from './metrics-registry';
import { FINANCE_METRICS } from '../runtime';

/** /metrics on the HTTP port, where the seed's prometheus.io/port annotation points. */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(FINANCE_METRICS) private readonly metrics: FinanceMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
