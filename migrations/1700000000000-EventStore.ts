import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL event store: one append-only `events` table and the `append_events` function.
 *
 * Gap-free reading: a reader following global_position must never pass a position that a
 * still-running append will fill later. append_events therefore takes a transaction-scoped
 * advisory lock BEFORE the identity value is drawn; PostgreSQL makes a commit visible before it
 * releases the transaction's locks, so positions become visible strictly in order.
 * The key is a constant shared with PostgresEventStore (APPEND_LOCK_KEY); the bigint key space
 * cannot collide with the two-int4 advisory locks other parts of the service may use.
 *
 * No secondary index on type or created_at: every index slows every append, and the only
 * readers of those columns (events:inspect) scan the table anyway.
 */
export class EventStore1700000000000 implements MigrationInterface {
  name = 'EventStore1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version >= 0),
        event_id        uuid        NOT NULL,
        type            text        NOT NULL,
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_event_id_key UNIQUE (event_id),
        CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
      )`);
    // One round trip per append: the lock is held only while this function and its commit run,
    // never across network round trips. p_expected: -2 = any, -1 = no stream, n >= 0 = last version.
    // Returns ok=false with the stream's current version (-1 = no stream) on a version conflict.
    await queryRunner.query(`
      CREATE FUNCTION append_events(
        p_stream_id text, p_expected integer,
        p_event_ids uuid[], p_types text[], p_data text[], p_metadata text[])
      RETURNS TABLE (ok boolean, stream_version integer, global_position bigint)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_current integer;
      BEGIN
        PERFORM pg_advisory_xact_lock(7366034862003122753);
        -- A fresh snapshot (this is the function's next statement): it sees every append committed before the lock.
        SELECT max(e.stream_version) INTO v_current FROM events e WHERE e.stream_id = p_stream_id;
        v_current := coalesce(v_current, -1);
        IF p_expected <> -2 AND p_expected <> v_current THEN
          RETURN QUERY SELECT false, v_current, NULL::bigint;
          RETURN;
        END IF;
        -- clock_timestamp() after the lock: created_at follows position order (now() would be
        -- the transaction start, taken before waiting for the lock).
        RETURN QUERY
          WITH inserted AS (
            INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, created_at)
            SELECT p_stream_id, v_current + e.ord::integer, e.id, e.type, e.data::jsonb, e.metadata::jsonb, clock_timestamp()
            FROM unnest(p_event_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e(id, type, data, metadata, ord)
            ORDER BY e.ord
            RETURNING events.stream_version, events.global_position
          )
          SELECT true, max(i.stream_version), max(i.global_position) FROM inserted i;
      END
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION IF EXISTS append_events(text, integer, uuid[], text[], text[], text[])');
    await queryRunner.query('DROP TABLE IF EXISTS events');
  }
}
