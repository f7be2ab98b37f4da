import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read models (rebuilt and swapped by the projection rollback, so NO foreign keys between them) and
 * the projection state: the checkpoint and the control row of the pause protocol.
 *
 * Indexes serve the query API: invoices by tenant (+ status / + customer) in (created_at, id) order
 * for keyset pagination, payments by invoice, journal entries by tenant + date, lines by account
 * (covering the trial balance sums).
 */
export class ReadModels1700000002000 implements MigrationInterface {
  name = 'ReadModels1700000002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE invoice_read_model (
        id                uuid        PRIMARY KEY,
        tenant_id         text        NOT NULL,
        customer_id       text        NOT NULL,
        currency          text        NOT NULL,
        status            text        NOT NULL CHECK (status IN ('DRAFT', 'APPROVED', 'PARTIALLY_PAID', 'PAID', 'CANCELLED')),
        subtotal_minor    bigint      NOT NULL,
        vat_minor         bigint      NOT NULL,
        total_minor       bigint      NOT NULL,
        amount_paid_minor bigint      NOT NULL DEFAULT 0,
        balance_due_minor bigint      NOT NULL,
        due_date          date        NOT NULL,
        line_count        integer     NOT NULL,
        version           integer     NOT NULL,
        last_position     bigint      NOT NULL,
        created_at        timestamptz NOT NULL,
        updated_at        timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX invoice_read_model_tenant_created_idx ON invoice_read_model (tenant_id, created_at DESC, id DESC)');
    await queryRunner.query('CREATE INDEX invoice_read_model_tenant_status_idx ON invoice_read_model (tenant_id, status, created_at DESC, id DESC)');
    await queryRunner.query('CREATE INDEX invoice_read_model_tenant_customer_idx ON invoice_read_model (tenant_id, customer_id, created_at DESC, id DESC)');

    await queryRunner.query(`
      CREATE TABLE payment_read_model (
        id           uuid        PRIMARY KEY,
        invoice_id   uuid        NOT NULL,
        tenant_id    text        NOT NULL,
        amount_minor bigint      NOT NULL,
        method       text        NOT NULL,
        reference    text        NOT NULL,
        paid_at      timestamptz NOT NULL,
        position     bigint      NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX payment_read_model_invoice_idx ON payment_read_model (invoice_id, position)');

    await queryRunner.query(`
      CREATE TABLE journal_entry_read_model (
        id                 uuid        PRIMARY KEY,
        tenant_id          text        NOT NULL,
        source             text        NOT NULL CHECK (source IN ('manual', 'invoice_approval', 'invoice_cancellation', 'payment')),
        source_id          uuid        NULL,
        entry_date         date        NOT NULL,
        memo               text        NOT NULL,
        currency           text        NOT NULL,
        total_debit_minor  bigint      NOT NULL,
        total_credit_minor bigint      NOT NULL,
        position           bigint      NOT NULL,
        created_at         timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX journal_entry_read_model_tenant_date_idx ON journal_entry_read_model (tenant_id, entry_date, id)');

    await queryRunner.query(`
      CREATE TABLE journal_entry_line_read_model (
        journal_entry_id uuid    NOT NULL,
        line_no          integer NOT NULL,
        tenant_id        text    NOT NULL,
        account_code     text    NOT NULL,
        debit_minor      bigint  NOT NULL,
        credit_minor     bigint  NOT NULL,
        entry_date       date    NOT NULL,
        PRIMARY KEY (journal_entry_id, line_no)
      )`);
    await queryRunner.query(
      'CREATE INDEX journal_entry_line_read_model_account_idx ON journal_entry_line_read_model (tenant_id, account_code, entry_date) INCLUDE (debit_minor, credit_minor)',
    );

    await queryRunner.query(`
      CREATE TABLE projection_checkpoint (
        name       text        PRIMARY KEY,
        position   bigint      NOT NULL CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`INSERT INTO projection_checkpoint (name, position) VALUES ('finance', 0)`);

    await queryRunner.query(`
      CREATE TABLE projection_control (
        name          text        PRIMARY KEY,
        state         text        NOT NULL CHECK (state IN ('running', 'paused', 'rebuilding', 'held')),
        operation_id  uuid        NULL,
        hold_position bigint      NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`INSERT INTO projection_control (name, state) VALUES ('finance', 'running')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'projection_control',
      'projection_checkpoint',
      'journal_entry_line_read_model',
      'journal_entry_read_model',
      'payment_read_model',
      'invoice_read_model',
    ]) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
