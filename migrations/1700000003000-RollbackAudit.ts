import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Projection rollback operations: the live progress of a running rollback (any pod answers
 * GET /admin/finance/projection-rollback/:id from here) and the permanent audit record of every one
 * (who, when, target, result, counts, duration). Rows are never deleted by the service.
 *
 * At most one operation is 'running' in the cluster: the rollback's session advisory lock enforces it,
 * and the partial unique index makes the database refuse a second one even if that lock were bypassed.
 */
export class RollbackAudit1700000003000 implements MigrationInterface {
  name = 'RollbackAudit1700000003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE projection_rollback_operations (
        id                      uuid        PRIMARY KEY,
        requested_by            text        NOT NULL,
        tenant_id               text        NOT NULL,
        target_position         bigint      NOT NULL CHECK (target_position >= 0),
        resume                  boolean     NOT NULL DEFAULT true,
        status                  text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        phase                   text        NOT NULL,
        events_replayed         bigint      NOT NULL DEFAULT 0,
        last_replayed_position  bigint,
        previous_checkpoint     bigint,
        previous_state          text,
        event_store             text,
        runner                  text,
        error                   text,
        counts                  jsonb       NOT NULL DEFAULT '{}'::jsonb,
        started_at              timestamptz NOT NULL DEFAULT now(),
        updated_at              timestamptz NOT NULL DEFAULT now(),
        finished_at             timestamptz,
        duration_ms             bigint
      )`);
    await queryRunner.query('CREATE INDEX projection_rollback_operations_started_idx ON projection_rollback_operations (started_at DESC)');
    await queryRunner.query(
      `CREATE UNIQUE INDEX projection_rollback_operations_one_running ON projection_rollback_operations ((true)) WHERE status = 'running'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS projection_rollback_operations');
  }
}
