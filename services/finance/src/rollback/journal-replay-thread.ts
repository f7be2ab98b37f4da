/**
 * A rollback's replay on two threads. Manual journal entries (JournalEntryPosted events) are the one
 * kind of event whose projection depends on no other event: no invoice row, nothing carried between
 * batches (the projector's duplicate guard for them is per batch, the shadow table's key does the
 * rest). So a worker thread reads them on its own session, folds them through the same projector and
 * encodes their shadow rows, while the main thread replays every other event; the main thread writes
 * the worker's rows into the same COPY streams as its own. Measured on the 1M-event benchmark: Node's
 * one thread was the replay's bottleneck (a core full), and these entries are a third of its work.
 *
 * Memory stays bounded: the worker has at most MAX_UNACKNOWLEDGED batches on their way, each
 * acknowledged once the main thread has taken it.
 */
import type { ClientConfig } from 'pg';
import type { Position } from '../event-store/position';
import type { ProjectionProblem } from '../projections/read-model-rows';
import { startWorker } from '../util/start-worker';

/** The event type the worker replays; the main thread's reader skips it. */
export const WORKER_EVENT_TYPES: readonly string[] = ['JournalEntryPosted'];

const MAX_UNACKNOWLEDGED = 2;

/** What the worker needs (structured-cloneable). */
export interface JournalReplayInput {
  connection: ClientConfig;
  target: Position;
  streamPrefixes: readonly string[];
  batchSize: number;
  highWater: number;
  maxUnacknowledged: number;
}

/** One batch of the worker's replay: binary COPY rows (no header or trailer) and what it counted. */
export interface EncodedJournalBatch {
  entries: Uint8Array;
  lines: Uint8Array;
  entryCount: number;
  lineCount: number;
  eventCount: number;
  lastPosition: Position | undefined;
  unknownEvents: number;
  malformedEvents: number;
  duplicateEvents: number;
  problems: ProjectionProblem[];
}

export type WorkerMessage = { kind: 'batch'; batch: EncodedJournalBatch } | { kind: 'done' } | { kind: 'failed'; message: string };

export const ACKNOWLEDGE = 'ack';

/**
 * Starts the worker and yields its batches in order. Leaving early (or failing) stops the worker,
 * which ends its session.
 */
export async function* replayJournalEntriesInWorker(input: Omit<JournalReplayInput, 'maxUnacknowledged'>): AsyncGenerator<EncodedJournalBatch> {
  const worker = startWorker(__dirname, 'journal-replay-worker', { workerData: { ...input, maxUnacknowledged: MAX_UNACKNOWLEDGED } satisfies JournalReplayInput });
  const queue: EncodedJournalBatch[] = [];
  let finished = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (message: WorkerMessage) => {
    if (message.kind === 'batch') queue.push(message.batch);
    else if (message.kind === 'done') finished = true;
    else failure ??= new Error(`the journal replay thread failed: ${message.message}`);
    notify();
  });
  worker.on('error', (error) => {
    failure ??= error;
    notify();
  });
  worker.on('exit', (code) => {
    if (!finished) failure ??= new Error(`the journal replay thread stopped (exit code ${code}) before it finished`);
    notify();
  });
  try {
    for (;;) {
      const batch = queue.shift();
      if (batch !== undefined) {
        yield batch;
        worker.postMessage(ACKNOWLEDGE);
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    await worker.terminate(); // its port keeps it alive after it is done
  }
}
