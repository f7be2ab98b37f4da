/**
 * The CPU as the bench header names it. The model string alone ("AMD EPYC" under KVM) hides the
 * generation, and the same code has run 25-30% slower or faster on machines of the same name, so the
 * family/model/stepping numbers from /proc/cpuinfo go beside it when Linux gives them.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export function cpuDescription(cpuinfo: string = readCpuinfo()): string {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(cpuinfo)?.[1].trim();
  const generation = ['cpu family', 'model', 'stepping']
    .map((name) => [name, field(name)] as const)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name.replace('cpu ', '')} ${value}`);
  const name = (cpus()[0]?.model ?? 'unknown').trim();
  return `${cpus().length} CPU(s) (${[name, ...generation].join(', ')})`;
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return ''; // not Linux
  }
}
