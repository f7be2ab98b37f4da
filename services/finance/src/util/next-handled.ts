/**
 * Asks an async iterator for its next value ahead of need, with the rejection handled at once: a read
 * that fails before anything awaits it would otherwise be an unhandled rejection, which ends a Node
 * process. Awaiting the returned promise still throws its error.
 */
export function nextHandled<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T>> {
  const next = iterator.next();
  next.catch(() => undefined);
  return next;
}
