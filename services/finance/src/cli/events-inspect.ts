/**
 * `npm run events:inspect [-- --last N] [--before <ISO time>] [--json]`: what is in the event store
 * the service is configured with (same environment as the service; the embedded PostgreSQL by
 * default, reused when the service is running). Prints the head position, event counts by stream
 * category and by type, the newest events, and with --before the last position at or before a
 * time (e.g. the `toPosition` for a rollback to that moment).
 * Exit codes: 0 printed, 1 failed, 2 bad arguments or configuration.
 */
import 'reflect-metadata';
import { AppConfig, ConfigError, loadConfig } from '../config/app-config';
import { poolOf } from '../database/data-source.factory';
import { openDatabase } from '../database/infrastructure';
import type { EventStore } from '../event-store/event-store';
import { createEventStoreDb } from '../event-store/event-store.factory';
import { DEFAULT_LAST, EventStoreInspection, inspectEventStore } from '../event-store/inspection';
import { PostgresEventStore } from '../event-store/postgres-event-store';
import { formatPosition } from '../event-store/position';
import { cliArgs, UsageError } from './cli-args';

interface InspectArgs {
  last: number;
  before?: Date;
  json: boolean;
}

export { UsageError };

const USAGE = 'usage: events:inspect [--last N] [--before 2026-11-20T10:00:00Z] [--json]';
const MAX_LAST = 10_000;

export function parseInspectArgs(argv: string[]): InspectArgs {
  const args: InspectArgs = { last: DEFAULT_LAST, json: false };
  for (const { arg, flag, value } of cliArgs(argv, { usage: USAGE })) {
    if (flag === '--json') args.json = true;
    else if (flag === '--last') {
      const raw = value();
      if (!/^\d+$/.test(raw) || Number(raw) > MAX_LAST) throw new UsageError(`--last must be an integer from 0 to ${MAX_LAST} (got "${raw}")`);
      args.last = Number(raw);
    } else if (flag === '--before') {
      const raw = value();
      const at = new Date(raw);
      // Date-only or zone-less input would silently mean local time or midnight UTC: demand a full instant.
      if (Number.isNaN(at.getTime()) || !/T.*(Z|[+-]\d\d:?\d\d)$/i.test(raw)) throw new UsageError(`--before must be an ISO time with a zone, e.g. 2026-11-20T10:00:00Z (got "${raw}")`);
      args.before = at;
    } else if (flag === '--help' || flag === '-h') throw new UsageError(USAGE);
    else throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
  }
  return args;
}

/** The core of the command: inspects `store` and renders the report. */
export async function eventsInspect(store: EventStore, args: InspectArgs): Promise<string> {
  const inspection = await inspectEventStore(store, { last: args.last, before: args.before });
  return args.json ? renderJson(inspection) : renderTable(inspection);
}

/** Positions as decimal strings (they exceed 2^53 on EventStoreDB), times as ISO strings. */
function renderJson(inspection: EventStoreInspection): string {
  return `${JSON.stringify(
    {
      kind: inspection.kind,
      headPosition: formatPosition(inspection.headPosition),
      totalEvents: inspection.totalEvents,
      byCategory: inspection.byCategory,
      byType: inspection.byType,
      lastEvents: inspection.lastEvents.map((e) => ({ position: formatPosition(e.position), createdAt: e.createdAt.toISOString(), streamId: e.streamId, type: e.type })),
      ...(inspection.before ? { before: { at: inspection.before.at.toISOString(), position: formatPosition(inspection.before.position) } } : {}),
    },
    null,
    2,
  )}\n`;
}

function renderTable(inspection: EventStoreInspection): string {
  const lines = [`Event store:   ${inspection.kind}`, `Head position: ${formatPosition(inspection.headPosition)}`, `Events:        ${inspection.totalEvents}`, ''];
  lines.push(...table(['stream category', 'events'], inspection.byCategory.map((c) => [c.name, String(c.count)]), [false, true]), '');
  lines.push(...table(['event type', 'events'], inspection.byType.map((c) => [c.name, String(c.count)]), [false, true]), '');
  lines.push(`Last ${inspection.lastEvents.length} event(s):`);
  lines.push(
    ...table(
      ['position', 'time', 'stream', 'type'],
      inspection.lastEvents.map((e) => [formatPosition(e.position), e.createdAt.toISOString(), e.streamId, e.type]),
      [true, false, false, false],
    ),
  );
  if (inspection.before) {
    const { at, position } = inspection.before;
    lines.push('', `Last position at or before ${at.toISOString()}: ${formatPosition(position)}${position === 0n ? ' (no event that early)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][], alignRight: boolean[]): string[] {
  if (rows.length === 0) return [`${header.join('  ')}`, '(none)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (alignRight[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The configured store; PostgreSQL through the service's own database helpers (embedded by default). */
async function openConfiguredStore(config: AppConfig): Promise<{ store: EventStore; close(): Promise<void> }> {
  if (config.eventStore === 'eventstoredb') {
    const store = createEventStoreDb(config);
    return { store, close: () => store.close() };
  }
  const { dataSource, embedded } = await openDatabase(config, 'finance-events-inspect');
  return {
    store: new PostgresEventStore(poolOf(dataSource)),
    async close() {
      await dataSource.destroy().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

async function main(argv: string[]): Promise<number> {
  let args: InspectArgs;
  let config: AppConfig;
  try {
    args = parseInspectArgs(argv);
    config = loadConfig();
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`events:inspect: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { store, close } = await openConfiguredStore(config);
  try {
    process.stdout.write(await eventsInspect(store, args));
    return 0;
  } finally {
    await close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`events:inspect failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
