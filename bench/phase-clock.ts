/**
 * Times a rollback's phases from its own log lines (a pino destination): wall time, this process's
 * CPU and, for a local embedded server, PostgreSQL's CPU per phase. Lines at or above `forwardLevel`
 * still go to stderr, as with a plain logger.
 */
import { postgresCpuSeconds } from './postgres-cpu';

/** The message that ends each phase (the rollback logs them; the runbook greps the same lines). */
const PHASE_ENDS: ReadonlyArray<[phase: string, message: RegExp]> = [
  ['replay', /^replayed \d+ events into the shadow tables/],
  ['indexes', /^shadow indexes built and analysed/],
  ['verify', /^rebuilt read model verified/],
  ['swap', /^projection rollback succeeded/],
];
const STARTED = /^projection rollback started/;

interface Mark {
  phase: string;
  at: number;
  nodeCpu: number;
  postgresCpu: number | undefined;
}

export class PhaseClock {
  private marks: Mark[] = [];

  constructor(
    private readonly postmasterPidFile: string | undefined,
    private readonly forwardLevel: number,
  ) {}

  /** The pino destination. */
  write(line: string): void {
    const entry = JSON.parse(line) as { msg?: string; level?: number };
    const msg = entry.msg ?? '';
    if (STARTED.test(msg)) this.marks = [this.mark('start')];
    for (const [phase, ends] of PHASE_ENDS) if (ends.test(msg)) this.marks.push(this.mark(phase));
    if ((entry.level ?? 0) >= this.forwardLevel) process.stderr.write(line);
  }

  /** The last rollback's phases, e.g. `replay 10.6 s (Node 9.2 s CPU, PostgreSQL 8.0 s), ...`. */
  report(): string {
    const parts: string[] = [];
    for (let i = 1; i < this.marks.length; i++) {
      const [from, to] = [this.marks[i - 1], this.marks[i]];
      const postgres = from.postgresCpu !== undefined && to.postgresCpu !== undefined ? `, PostgreSQL ${(to.postgresCpu - from.postgresCpu).toFixed(1)} s` : '';
      parts.push(`${to.phase} ${((to.at - from.at) / 1000).toFixed(1)} s (Node ${(to.nodeCpu - from.nodeCpu).toFixed(1)} s CPU${postgres})`);
    }
    return parts.join(', ');
  }

  private mark(phase: string): Mark {
    const cpu = process.cpuUsage();
    return {
      phase,
      at: Date.now(),
      nodeCpu: (cpu.user + cpu.system) / 1e6,
      postgresCpu: this.postmasterPidFile ? postgresCpuSeconds(this.postmasterPidFile) : undefined,
    };
  }
}
