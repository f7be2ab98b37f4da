/**
 * The worker thread of journal-replay-thread.ts: reads the JournalEntryPosted events up to the target
 * on its own session (the streaming COPY reader), folds each batch through the live projector and
 * posts its journal entries and lines as binary COPY rows, their buffers moved (not copied) to the
 * main thread. Waits for acknowledgements so that only a few batches are ever on their way.
 */
import { Client } from 'pg';
import { parentPort, workerData } from 'node:worker_threads';
import { projectBatch } from '../projections/finance-projector';
import { copyReadEvents } from './postgres-copy-reader';
import { ACKNOWLEDGE, EncodedJournalBatch, JournalReplayInput, WORKER_EVENT_TYPES, WorkerMessage } from './journal-replay-thread';
import { journalEntriesCopyRows, journalLinesCopyRows } from './shadow-copy';

const NO_INVOICES = new Map();

async function replay(input: JournalReplayInput, port: NonNullable<typeof parentPort>): Promise<void> {
  let credits = input.maxUnacknowledged;
  let wake: (() => void) | undefined;
  port.on('message', (message: unknown) => {
    if (message !== ACKNOWLEDGE) return;
    credits++;
    const w = wake;
    wake = undefined;
    w?.();
  });
  const client = new Client(input.connection);
  client.on('error', () => undefined); // surfaces as the COPY's failure
  await client.connect();
  try {
    const batches = copyReadEvents(client, {
      toInclusive: input.target,
      streamPrefixes: input.streamPrefixes,
      batchSize: input.batchSize,
      highWater: input.highWater,
      eventTypes: { only: WORKER_EVENT_TYPES },
    });
    for await (const events of batches) {
      const batch = projectBatch(events, NO_INVOICES);
      let lineCount = 0;
      for (const entry of batch.journalEntries) lineCount += entry.lines.length;
      const encoded: EncodedJournalBatch = {
        entries: journalEntriesCopyRows(batch.journalEntries),
        lines: journalLinesCopyRows(batch.journalEntries),
        entryCount: batch.journalEntries.length,
        lineCount,
        eventCount: batch.eventCount,
        lastPosition: batch.lastPosition,
        unknownEvents: batch.unknownEvents,
        malformedEvents: batch.malformedEvents,
        duplicateEvents: batch.duplicateEvents,
        problems: batch.problems,
      };
      while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
      credits--;
      port.postMessage({ kind: 'batch', batch: encoded } satisfies WorkerMessage, movable(encoded.entries, encoded.lines));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  port.postMessage({ kind: 'done' } satisfies WorkerMessage);
}

/** The buffers that can be moved to the other thread: not a slice of Node's shared small-buffer pool. */
function movable(...views: Uint8Array[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) if (view.buffer instanceof ArrayBuffer && view.buffer.byteLength > Buffer.poolSize) buffers.add(view.buffer);
  return [...buffers];
}

const port = parentPort;
if (port) {
  replay(workerData as JournalReplayInput, port).catch((error: unknown) => {
    port.postMessage({ kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage);
  });
}
