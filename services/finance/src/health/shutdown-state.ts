/** Set once SIGTERM arrives: readiness turns 503 at once while in-flight requests finish. */
export class ShutdownState {
  private since?: Date;

  begin(): void {
    this.since ??= new Date();
  }

  get shuttingDown(): boolean {
    return this.since !== undefined;
  }
}
