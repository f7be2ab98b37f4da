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
  /** The events this command appended: now, or by an earlier attempt of the same keyed request. */
  appended: FinanceEvent[];
}

/**
 * Load → fold → decide → append with the expected version (the last version read; 'no_stream' on create).
 * A create's stream id is new, so its first attempt does not read (the stream is empty): 'no_stream'
 * still rejects the append if the stream exists, and the retry reads it.
 *
 * A keyed request (context.idempotencyToken) whose events the stream already holds was run before by
 * an attempt that appended but did not store its answer: the result is that attempt's, and nothing is
 * appended again. So a create with a token reads its stream first (its id derives from the token).
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
    const unread = command.mode === 'create' && attempt === 1 && context.idempotencyToken === undefined;
    const recorded = unread ? [] : await eventStore.readStream(command.streamId);
    const current = recorded.length > 0 ? recorded[recorded.length - 1].streamVersion : -1;
    if (command.mode === 'update' && (recorded.length === 0 || !ownedBy(recorded, context.tenantId))) throw command.notFound();
    const earlier = appendedEarlier(recorded, context, decider);
    if (earlier) return earlier;
    if (command.mode === 'update' && context.expectedVersion !== undefined && context.expectedVersion !== current) {
      throw new ConcurrencyError(command.streamId, context.expectedVersion, current);
    }
    const state = fold(decider, recorded.map(toFinanceEvent));
    const events = command.decide(state);
    if (events.length === 0) return { version: current, state, appended: [] };
    const expected: ExpectedVersion = current < 0 ? 'no_stream' : current;
    const metadata = eventMetadata(context);
    try {
      const result = await eventStore.append(
        command.streamId,
        events.map((event) => ({ id: randomUUID(), type: event.type, data: event.data as unknown as Record<string, unknown>, metadata })),
        expected,
      );
      return { version: result.nextExpectedVersion, state: events.reduce((next, event) => decider.evolve(next, event), state), appended: events };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (attempt >= maxAttempts) throw new ConcurrencyError(command.streamId, current < 0 ? 'no_stream' : current, error.actual);
    }
  }
}

/**
 * The result of an earlier attempt of this keyed request, if the stream holds its events (of this
 * tenant): the state and version just after its last one.
 */
function appendedEarlier<State>(
  recorded: RecordedEvent[],
  context: CommandContext,
  decider: Pick<Decider<unknown, FinanceEvent, State>, 'evolve' | 'initialState'>,
): CommandResult<State> | undefined {
  const token = context.idempotencyToken;
  if (token === undefined) return undefined;
  const mine = (event: RecordedEvent) => event.metadata?.idempotencyToken === token && event.metadata.tenantId === context.tenantId;
  let last = recorded.length - 1;
  while (last >= 0 && !mine(recorded[last])) last--;
  if (last < 0) return undefined;
  const upTo = recorded.slice(0, last + 1);
  return {
    version: recorded[last].streamVersion,
    state: fold(decider, upTo.map(toFinanceEvent)),
    appended: upTo.filter(mine).map(toFinanceEvent),
  };
}

/** Every event of the stream belongs to the tenant (a stream is only ever written by its creator's tenant). */
function ownedBy(events: RecordedEvent[], tenantId: string): boolean {
  return events.every((event) => event.metadata?.tenantId === tenantId);
}

function toFinanceEvent(event: RecordedEvent): FinanceEvent {
  return { type: event.type, data: event.data } as unknown as FinanceEvent;
}
