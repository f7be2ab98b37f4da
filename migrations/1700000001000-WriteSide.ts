import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The write side's idempotency keys (services/finance/src/http/idempotency/idempotency.service.ts).
 *
 * One row per (tenant, key): inserted first, inside the transaction that runs the command and appends its
 * events, so a concurrent retry with the same key waits on the primary key and then replays the stored
 * answer. A committed row always holds the answer (status and JSON body); the response columns are only
 * empty inside that transaction. request_fingerprint (sha256 of method, path and canonical body) tells a
 * genuine retry from a reused key. Rows older than the retention (7 days) are purged by created_at.
 */
export class WriteSide1700000001000 implements MigrationInterface {
  name = 'WriteSide1700000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        tenant_id           text        NOT NULL,
        idempotency_key     text        NOT NULL,
        request_fingerprint text        NOT NULL,
        request_method      text        NOT NULL,
        request_path        text        NOT NULL,
        response_status     integer,
        response_body       jsonb,
        created_at          timestamptz NOT NULL DEFAULT now(),
        completed_at        timestamptz,
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idempotency_key),
        CONSTRAINT idempotency_keys_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 255)
      )`);
    await queryRunner.query('CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS idempotency_keys');
  }
}
