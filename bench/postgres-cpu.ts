/**
 * CPU seconds used so far by a local PostgreSQL server: its postmaster, the backends it has reaped
 * (counted in the postmaster's children times) and the ones still running. Linux /proc only.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime, stime, cutime, cstime (fields 14-17 of /proc/<pid>/stat) and the parent pid. */
function stat(pid: number | string): { ppid: number; own: number; children: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
}

export function postgresCpuSeconds(postmasterPidFile: string): number {
  const postmaster = Number(readFileSync(postmasterPidFile, 'utf8').split('\n')[0]);
  const root = stat(postmaster);
  let ticks = root.own + root.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const child = stat(entry);
      if (child.ppid === postmaster) ticks += child.own;
    } catch {
      // the process ended while we looked: its time is now in the postmaster's children times
    }
  }
  return ticks / CLOCK_TICKS;
}
