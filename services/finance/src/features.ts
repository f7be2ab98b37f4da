import type { DynamicModule } from '@nestjs/common';
import { AdminModule } from './http/admin/admin.module';
import { FinanceApiModule } from './http/finance/finance-api.module';
import { ProjectionsModule } from './projections/projections.module';
import type { FinanceRuntime } from './runtime';

/**
 * The service's feature modules (finance API, projections, rollback), each built from the runtime.
 * Kept apart from app.module.ts so the foundation does not depend on the features.
 */
export function featureModules(runtime: FinanceRuntime): DynamicModule[] {
  return [FinanceApiModule.register(runtime), AdminModule.register(runtime), ProjectionsModule.register(runtime)];
}
