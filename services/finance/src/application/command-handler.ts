import { randomUUID } from 'node:crypto';
import { Decider, fold } from '../domain/decider';
import type { FinanceEvent } from '../domain/events';
import { EventStore, ExpectedVersion, RecordedEvent, WrongExpectedVersionError } from '../event-store/event-store';
import { CommandContext, eventMetadata } from './command-context';
import { ConcurrencyError } from './errors';

export interface StreamCommand<State> {
  streamId: string;
  /** 'create': the stream must not exist yet (appended with 'no_stream'); 'update': it must exist for this tenant. */
  mode: 'create' | 'update';
  /** The error for a missing stream, or one owned by another tenant (the same answer: 404). */
  notFound: () => Error;
  decide: (state: State) => FinanceEvent[];
}

export interface CommandResult<State> {
  /** Stream version of the last event appended (0-based): the next If-Match. */
  version: number;
  /** The state after the new events. */
  state: State;
}

/**
 * Load → fold → decide → append with the expected version (the last version read; 'no_stream' on create).
 * A create's stream id is new, so its first attempt does not read (the stream is empty): 'no_stream'
 * still rejects the append if the stream exists, and the retry reads it.
 *
 * Conflicts: with an If-Match version (context.expectedVersion) a mismatch is a ConcurrencyError (409)
 * at once: the caller decided on a state that is gone. Without it, a writer that loses the race to
 * the append re-reads and decides again once (the rules are re-checked against the fresh state, so
 * e.g. two racing payments can never overpay); a second loss is a ConcurrencyError.
 */
export async function executeStreamCommand<State>(
  eventStore: EventStore,
  context: CommandContext,
  decider: Pick<Decider<unknown, FinanceEvent, State>, 'evolve' | 'initialState'>,
  command: StreamCommand<State>,
): Promise<CommandResult<State>> {
  const maxAttempts = context.expectedVersion === undefined ? 2 : 1;
  for (let attempt = 1; ; attempt++) {
    const recorded = command.mode === 'create' && attempt === 1 ? [] : await eventStore.readStream(command.streamId);
    const current = recorded.length > 0 ? recorded[recorded.length - 1].streamVersion : -1;
    if (command.mode === 'update') {
      if (recorded.length === 0 || !ownedBy(recorded, context.tenantId)) throw command.notFound();
      if (context.expectedVersion !== undefined && context.expectedVersion !== current) {
        throw new ConcurrencyError(command.streamId, context.expectedVersion, current);
      }
    }
    const state = fold(decider, recorded.map(toFinanceEvent));
    const events = command.decide(state);
    if (events.length === 0) return { version: current, state };
    const expected: ExpectedVersion = current < 0 ? 'no_stream' : current;
    const metadata = eventMetadata(context);
    try {
      const result = await eventStore.append(
        command.streamId,
        events.map((event) => ({ id: randomUUID(), type: event.type, data: event.data as unknown as Record<string, unknown>, metadata })),
        expected,
      );
      return { version: result.nextExpectedVersion, state: events.reduce((next, event) => decider.evolve(next, event), state) };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (attempt >= maxAttempts) throw new ConcurrencyError(command.streamId, current < 0 ? 'no_stream' : current, error.actual);
    }
  }
}

/** Every event of the stream belongs to the tenant (a stream is only ever written by its creator's tenant). */
function ownedBy(events: RecordedEvent[], tenantId: string): boolean {
  return events.every((event) => event.metadata?.tenantId === tenantId);
}

function toFinanceEvent(event: RecordedEvent): FinanceEvent {
  return { type: event.type, data: event.data } as unknown as FinanceEvent;
}
