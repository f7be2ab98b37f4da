import type { DynamicModule } from '@nestjs/common';
import type { FinanceRuntime } from './runtime';

/**
 * The service's feature modules (finance API, projections, rollback), each built from the runtime.
 * Kept apart from app.module.ts so the foundation does not depend on the features.
 */
export function featureModules(_runtime: FinanceRuntime): DynamicModule[] {
  return [];
}
