import { cpus } from 'node:os';
import { cpuDescription } from '../../bench/cpu-description';

describe('the bench header names the CPU generation', () => {
  const model = (cpus()[0]?.model ?? 'unknown').trim();

  it('adds family, model and stepping from /proc/cpuinfo', () => {
    const cpuinfo = 'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\nstepping\t: 1\n';
    expect(cpuDescription(cpuinfo)).toBe(`${cpus().length} CPU(s) (${model}, family 26, model 2, stepping 1)`);
  });

  it('keeps the model string alone where there is no cpuinfo', () => {
    expect(cpuDescription('')).toBe(`${cpus().length} CPU(s) (${model})`);
  });
});
