/**
 * The decider pattern (as in emmett): a pure `decide(command, state) → events`, a pure
 * `evolve(state, event) → state` and the state before any event. Commands carry everything
 * non-deterministic (ids, clock readings) so deciding is repeatable.
 */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** The state after a sequence of events. */
export function fold<Event, State>(decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>, events: Iterable<Event>): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
