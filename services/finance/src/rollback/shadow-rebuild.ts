/**
 * The rebuild at the heart of a rollback: every finance event up to the target, streamed in batches
 * through the live projector (`projectBatch`) and the live writer (`writeBatch`, insert mode) into
 * the shadow tables. Memory is bounded (a few batches in flight plus a capped invoice working set)
 * whatever the number of events, and the work is pipelined: the next page is read while a batch is
 * folded, and each table's rows are written on their own session while Node folds the next batch.
 */
import type { ClientBase } from 'pg';
import { FINANCE_STREAM_PREFIXES } from '../domain/events';
import type { EventStore, RecordedEvent } from '../event-store/event-store';
import type { Position } from '../event-store/position';
import { emptyProjectionBatch, projectBatch } from '../projections/finance-projector';
import type { JournalEntryRow, ProjectionBatch, ProjectionProblem, ReadModelTables } from '../projections/read-model-rows';
import { loadInvoices, quoteTable, writeBatch } from '../projections/read-model-writer';
import { EvictedRows, InvoiceCache } from './invoice-cache';
import { CopyInStream } from './copy-in-stream';
import { copyFrom } from './pg-copy';
import {
  INVOICE_COPY_COLUMNS,
  invoicesCopyRows,
  JOURNAL_ENTRY_COPY_COLUMNS,
  JOURNAL_LINE_COPY_COLUMNS,
  journalEntriesCopyRows,
  journalLinesCopyRows,
  PAYMENT_COPY_COLUMNS,
  paymentsCopyText,
} from './shadow-copy';
import { checkAborted } from './rollback-errors';
import { SqlLane } from './sql-lane';
import { nextHandled } from '../util/next-handled';

export interface RebuildLanes {
  /** Invoice writes and read-backs (one session, so a read sees every earlier write). */
  invoices: SqlLane;
  payments: SqlLane;
  journalEntries: SqlLane;
  /** Journal lines (the largest table), spread over these sessions. */
  journalLines: SqlLane[];
}

export interface RebuildOptions {
  eventStore: EventStore;
  /**
   * Where the events come from instead of eventStore.readAll (the PostgreSQL store's COPY reader):
   * the finance events with position <= target, ascending, in batches.
   */
  source?: AsyncIterable<RecordedEvent[]>;
  target: Position;
  tables: ReadModelTables;
  lanes: RebuildLanes;
  /** Events per page read from the event store. */
  batchSize: number;
  /** Invoice rows kept in memory. */
  invoiceCacheSize: number;
  /** Pages read ahead while a batch is folded and written. */
  readAhead: number;
  /** Test-only: pause after each batch, so a test can observe (or kill) a rebuild in progress. */
  batchDelayMs?: number;
  signal?: AbortSignal;
  /** Called after every batch (cheap; the caller throttles what it logs or stores). */
  onBatch?: (progress: RebuildProgress, batch: ProjectionBatch) => void;
}

export interface RebuildProgress {
  eventsReplayed: number;
  lastReplayedPosition: Position | undefined;
  unknownEvents: number;
  malformedEvents: number;
  duplicateEvents: number;
  /** Rows written to each shadow table. */
  invoices: number;
  payments: number;
  journalEntries: number;
  journalLines: number;
  /** Invoice rows read back from the shadow table after eviction. */
  invoicesReloaded: number;
  /** First problems the projector reported (skipped events), for the log. */
  problems: ProjectionProblem[];
}

const MAX_PROBLEMS_KEPT = 20;

export async function rebuildShadow(options: RebuildOptions): Promise<RebuildProgress> {
  const { lanes, tables, signal } = options;
  const cache = new InvoiceCache(options.invoiceCacheSize);
  const progress: RebuildProgress = {
    eventsReplayed: 0,
    lastReplayedPosition: undefined,
    unknownEvents: 0,
    malformedEvents: 0,
    duplicateEvents: 0,
    invoices: 0,
    payments: 0,
    journalEntries: 0,
    journalLines: 0,
    invoicesReloaded: 0,
    problems: [],
  };
  const pages =
    options.source ??
    readAhead(
      options.eventStore.readAll({ toInclusive: options.target, batchSize: options.batchSize, streamPrefixes: [...FINANCE_STREAM_PREFIXES] }),
      options.readAhead,
    );
  let linesTurn = 0;
  const load = await beginFrozenLoads(lanes, tables);
  const streams = openStreams(lanes, tables, load);
  // Both adapters filter by stream prefix (the contract test holds them to it; the seed's readAll filter did not).
  for await (const events of pages) {
    checkAborted(signal);
    if (events.length === 0) continue;

    // Folded from the working set; invoices it may have evicted are read back and the batch folded again.
    const before = cache.batchLookup();
    let batch = projectBatch(events, before);
    for (let misses = before.takeMisses(); misses.length > 0; misses = before.takeMisses()) {
      const loaded = await lanes.invoices.run((client) => loadInvoices(client, misses, tables));
      cache.addLoaded(loaded);
      progress.invoicesReloaded += loaded.size;
      batch = projectBatch(events, before);
    }
    cache.applyChanged(batch.invoices);

    // Each table on its own session, through one COPY kept open for the whole replay (invoices, read
    // back and upserted on their session, get a COPY per batch).
    if (batch.payments.length > 0) await streams.payments.write(paymentsCopyText(batch.payments));
    if (batch.journalEntries.length > 0) {
      await streams.journalEntries.write(journalEntriesCopyRows(batch.journalEntries));
      for (const part of split(batch.journalEntries, streams.journalLines.length)) {
        await streams.journalLines[linesTurn++ % streams.journalLines.length].write(journalLinesCopyRows(part));
      }
    }
    const evicted = cache.evictOverflow();
    if (evicted.fresh.size > 0 || evicted.stored.size > 0) {
      await lanes.invoices.idle();
      progress.invoices += writeInvoices(lanes.invoices, evicted, tables, load.options(lanes.invoices, tables.invoices));
    }

    progress.eventsReplayed += batch.eventCount;
    progress.lastReplayedPosition = batch.lastPosition ?? progress.lastReplayedPosition;
    progress.unknownEvents += batch.unknownEvents;
    progress.malformedEvents += batch.malformedEvents;
    progress.duplicateEvents += batch.duplicateEvents;
    progress.payments += batch.payments.length;
    progress.journalEntries += batch.journalEntries.length;
    for (const entry of batch.journalEntries) progress.journalLines += entry.lines.length;
    for (const problem of batch.problems) if (progress.problems.length < MAX_PROBLEMS_KEPT) progress.problems.push(problem);
    options.onBatch?.(progress, batch);
    if (options.batchDelayMs) await delay(options.batchDelayMs, signal);
  }
  checkAborted(signal);
  progress.invoices += writeInvoices(lanes.invoices, cache.drain(), tables, load.options(lanes.invoices, tables.invoices));
  await Promise.all([streams.payments, streams.journalEntries, ...streams.journalLines].map((stream) => stream.end()));
  await load.commit();
  await Promise.all([lanes.invoices.idle(), lanes.payments.idle(), lanes.journalEntries.idle(), ...lanes.journalLines.map((lane) => lane.idle())]);
  return progress;
}

interface TableStreams {
  payments: CopyInStream;
  journalEntries: CopyInStream;
  /** One per journal-line lane. */
  journalLines: CopyInStream[];
}

/**
 * Opens the COPY of each table written only by COPY, on its lane. The lane's queue holds anything
 * queued after it (the commit) until the COPY has ended, and fails if the COPY fails.
 */
function openStreams(lanes: RebuildLanes, tables: ReadModelTables, load: FrozenLoads): TableStreams {
  const open = (lane: SqlLane, table: string, columns: readonly string[], binary: boolean) => {
    const stream = CopyInStream.open(lane.client, table, columns, { ...load.options(lane, table), binary });
    lane.submit(() => stream.finished);
    return stream;
  };
  return {
    payments: open(lanes.payments, tables.payments, PAYMENT_COPY_COLUMNS, false),
    journalEntries: open(lanes.journalEntries, tables.journalEntries, JOURNAL_ENTRY_COPY_COLUMNS, true),
    journalLines: lanes.journalLines.map((lane) => open(lane, tables.journalLines, JOURNAL_LINE_COPY_COLUMNS, true)),
  };
}

interface FrozenLoads {
  /** The COPY options for a table on a lane: FREEZE when that lane loads that table in its own transaction. */
  options(lane: SqlLane, table: string): { freeze: boolean };
  /** Commits those transactions (the rows become visible to the index builders). */
  commit(): Promise<void>;
}

/**
 * A table written by one lane only is loaded in ONE transaction of that lane that first empties it,
 * so every COPY into it can use FREEZE: rows land frozen, hinted and all-visible. Otherwise the first
 * scan after the load (an index build) sets hint bits on every page, and with data checksums (the
 * default since PostgreSQL 18) WAL-logs each page whole again (measured: 223 MB of WAL instead of
 * 63 MB for one index on 1.8M journal lines); then autovacuum visits every page once more after the
 * swap. A table spread over several lanes (journal lines, if tuned so) loads without FREEZE.
 * Should the rebuild fail, ending the lanes' sessions rolls these transactions back.
 */
async function beginFrozenLoads(lanes: RebuildLanes, tables: ReadModelTables): Promise<FrozenLoads> {
  const owners = new Map<SqlLane, string[]>();
  const own = (lane: SqlLane, table: string) => owners.set(lane, [...(owners.get(lane) ?? []), table]);
  own(lanes.invoices, tables.invoices);
  own(lanes.payments, tables.payments);
  own(lanes.journalEntries, tables.journalEntries);
  if (lanes.journalLines.length === 1) own(lanes.journalLines[0], tables.journalLines);
  await Promise.all([...owners].map(([lane, owned]) => lane.query(`BEGIN; TRUNCATE ${owned.map(quoteTable).join(', ')}`)));
  return {
    options: (lane, table) => ({ freeze: owners.get(lane)?.includes(table) === true }),
    commit: () => Promise.all([...owners.keys()].map((lane) => lane.query('COMMIT'))).then(() => undefined),
  };
}

/**
 * Invoices never written are copied in; newer versions of written ones are upserted by the live writer.
 * Returns how many new invoice rows this adds.
 */
function writeInvoices(lane: SqlLane, rows: EvictedRows, tables: ReadModelTables, copyOptions: { freeze: boolean }): number {
  if (rows.fresh.size > 0) {
    const payload = invoicesCopyRows(rows.fresh);
    lane.submit((client: ClientBase) => copyFrom(client, tables.invoices, INVOICE_COPY_COLUMNS, payload, copyOptions));
  }
  if (rows.stored.size > 0) {
    const batch = { ...emptyProjectionBatch(), invoices: rows.stored };
    lane.submit((client: ClientBase) => writeBatch(client, batch, tables, { mode: 'upsert' }));
  }
  return rows.fresh.size;
}

function split(entries: JournalEntryRow[], parts: number): JournalEntryRow[][] {
  if (parts <= 1 || entries.length < 2 * parts) return [entries];
  const size = Math.ceil(entries.length / parts);
  const out: JournalEntryRow[][] = [];
  for (let i = 0; i < entries.length; i += size) out.push(entries.slice(i, i + size));
  return out;
}

/**
 * Iterates `source` while keeping up to `depth` next pages requested: the event store reads page
 * n+1 while the caller works on page n. Leaving early closes the source.
 */
async function* readAhead<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const pending: Array<Promise<IteratorResult<T>>> = [];
  const request = () => pending.push(nextHandled(iterator)); // observed when awaited below, or dropped if we stop first
  let finished = false;
  try {
    for (let i = 0; i < Math.max(1, depth); i++) request();
    for (;;) {
      const result = await pending.shift()!;
      if (result.done) {
        finished = true;
        return;
      }
      request();
      yield result.value;
    }
  } finally {
    if (!finished) await iterator.return?.().catch(() => undefined);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
