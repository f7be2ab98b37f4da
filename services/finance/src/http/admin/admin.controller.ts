import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { ProjectionStatusReader } from '../../projections/projection-status';
import { PROJECTION_STATUS } from '../../projections/projection.tokens';
import { ProjectionRollbackService } from '../../rollback/projection-rollback.service';
import { ProjectionStateError, RollbackInProgressError, RollbackRequestError } from '../../rollback/rollback-errors';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { AdminGuard, JwtAuthGuard } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { answer, toHttpException } from '../finance/error-mapping';
import { UUID_PATTERN } from '../finance/request-parsing';

const ROLLBACK_FIELDS = new Set(['targetVersion', 'resume']);

/**
 * The operators' admin API (bearer JWT with the admin role): projection rollback, its progress and
 * history, integrity verification, projection status and resume. Every pod answers from PostgreSQL.
 */
@Controller('admin/finance')
@UseGuards(JwtAuthGuard, AdminGuard)
export class AdminController {
  constructor(
    @Inject(ProjectionRollbackService) private readonly rollback: ProjectionRollbackService,
    /** The projections feature's status reader (global; knows whether this pod leads the projection). */
    @Inject(PROJECTION_STATUS) private readonly projections: ProjectionStatusReader,
  ) {}

  /** Starts a rollback in the background: 202 with the operation id to follow. */
  @Post('projection-rollback')
  @HttpCode(202)
  async requestRollback(@Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) {
      throw toHttpException(answer(400, { field: 'targetVersion', message: 'the body must be a JSON object such as {"targetVersion": 12345}' }));
    }
    const fields = body as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((key) => !ROLLBACK_FIELDS.has(key));
    if (unknown.length > 0) {
      throw toHttpException(answer(400, { field: unknown[0], message: `unknown field ${unknown[0]}: the body takes targetVersion and optionally resume` }));
    }
    try {
      const op = await this.rollback.requestRollback({
        targetVersion: fields.targetVersion,
        resume: fields.resume,
        requestedBy: principal.userId,
        tenantId: principal.tenantId,
      });
      return {
        operationId: op.operationId,
        status: op.status,
        targetVersion: op.targetVersion,
        resume: op.resume,
        statusUrl: `/admin/finance/projection-rollback/${op.operationId}`,
      };
    } catch (error) {
      throw asHttp(error);
    }
  }

  /** The last operations, newest first. */
  @Get('projection-rollback')
  async listRollbacks(@Query('limit') limit?: string) {
    let n = 20;
    if (limit !== undefined) {
      n = Number(limit);
      if (!/^\d+$/.test(limit) || n < 1 || n > 100) throw toHttpException(answer(400, { field: 'limit', message: `limit must be an integer from 1 to 100 (got "${limit}")` }));
    }
    return { items: await this.rollback.listOperations(n) };
  }

  @Get('projection-rollback/:operationId')
  async getRollback(@Param('operationId') operationId: string) {
    if (!UUID_PATTERN.test(operationId)) throw toHttpException(answer(400, { field: 'operationId', message: `operationId must be a UUID (got "${operationId.slice(0, 60)}")` }));
    const op = await this.rollback.getOperation(operationId.toLowerCase());
    if (!op) throw toHttpException(answer(404, { code: 'ROLLBACK_OPERATION_NOT_FOUND', message: `no projection rollback operation ${operationId}` }));
    return op;
  }

  /** 200 {ok: true, checks} when every integrity check passes; 409 with the failing checks otherwise (curl -f fails). */
  @Get('projection-verify')
  async verify() {
    const result = await this.rollback.verify();
    if (result.ok) return result;
    const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
    throw toHttpException(answer(409, { code: 'READ_MODEL_INTEGRITY_FAILED', message: `integrity checks failed: ${failed.join(', ')}`, ...result }));
  }

  @Get('projections')
  async projectionStatus() {
    const [status, running] = await Promise.all([this.projections.read(), this.rollback.runningOperation()]);
    return { ...status, rollback: running };
  }

  /** held (or paused) → running. */
  @Post('projection-resume')
  @HttpCode(200)
  async resume(@CurrentPrincipal() principal: Principal) {
    try {
      return await this.rollback.resume({ requestedBy: principal.userId, tenantId: principal.tenantId });
    } catch (error) {
      throw asHttp(error);
    }
  }
}

function asHttp(error: unknown): unknown {
  if (error instanceof RollbackRequestError) return toHttpException(answer(400, { field: error.field, message: error.message, ...error.details }));
  if (error instanceof RollbackInProgressError) {
    return toHttpException(answer(409, { code: error.code, message: error.message, operationId: error.runningOperationId ?? null }));
  }
  if (error instanceof ProjectionStateError) {
    return toHttpException(answer(error.code === 'SHUTTING_DOWN' ? 503 : 409, { code: error.code, message: error.message, state: error.state }));
  }
  return error;
}
