/**
 * Polls `probe` until it returns true or the deadline passes (no fixed sleeps); resolves with the
 * milliseconds it took. A probe that throws counts as "not yet"; the last error is in the timeout message.
 */
export async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 50): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return Date.now() - started;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
