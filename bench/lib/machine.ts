// Machine-wide CPU time, to tell how much of it went to processes outside the benchmark.
import { readFileSync } from 'node:fs';

/** Linux USER_HZ: /proc/stat counts in 1/100 s on every mainstream kernel build. */
const TICKS_PER_S = 100;

/** CPU seconds all CPUs spent busy since boot (NaN where /proc/stat is unavailable). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}
