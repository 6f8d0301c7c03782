// The IPC protocol between the benchmark (parent) and its child processes (gateway, backend
// simulator). Both sides import this file, so the messages stay in one place.
import { readFileSync } from 'node:fs';

/** Resource usage of one process, as reported over IPC. */
export interface ProcStats {
  /** process.cpuUsage(), microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  /** High-water mark of the resident set since the process started (getrusage ru_maxrss). */
  maxRssBytes: number;
  heapUsedBytes: number;
  /** Highest values seen by the process's own sampler (samplePeaks), 0 where it does not run. */
  peak: { heapTotalBytes: number; externalBytes: number; arrayBuffersBytes: number };
  /**
   * Main thread (the event loop), from /proc/self/schedstat: ns on a CPU, and ns runnable but
   * waiting for a CPU. Waiting time means other processes took the CPU. 0 where unavailable.
   */
  loopRunNs: number;
  loopWaitNs: number;
}

export type ParentMsg =
  | { id: number; type: 'stats' }
  /** Simulator only: replace the options later requests snapshot (tokens, delays…). */
  | { id: number; type: 'set-options'; options: Record<string, unknown> }
  /** A child-specific reading (e.g. the mint's swap timings: what = 'swaps'). */
  | { id: number; type: 'query'; what: string }
  | { id: number; type: 'shutdown' };

export type ChildMsg =
  | { type: 'ready'; url: string; info?: Record<string, unknown> }
  | { type: 'failed'; message: string }
  | { id: number; type: 'ok'; stats?: ProcStats; data?: unknown }
  | { id: number; type: 'error'; message: string };

function schedstat(): [number, number] {
  try {
    const [run, wait] = readFileSync('/proc/self/schedstat', 'utf8').split(' ').map(Number);
    return [run ?? 0, wait ?? 0];
  } catch {
    return [0, 0];
  }
}

const peak = { heapTotalBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 };

/** Samples memory every intervalMs, so a report can say what the peak RSS was made of. */
export function samplePeaks(intervalMs = 200): void {
  const sample = (): void => {
    const m = process.memoryUsage();
    peak.heapTotalBytes = Math.max(peak.heapTotalBytes, m.heapTotal);
    peak.externalBytes = Math.max(peak.externalBytes, m.external);
    peak.arrayBuffersBytes = Math.max(peak.arrayBuffersBytes, m.arrayBuffers);
  };
  sample();
  setInterval(sample, intervalMs).unref();
}

export function procStats(): ProcStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const [loopRunNs, loopWaitNs] = schedstat();
  return {
    loopRunNs,
    loopWaitNs,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: mem.rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: mem.heapUsed,
    peak: { ...peak },
  };
}

export function cpuSecondsBetween(a: ProcStats, b: ProcStats): number {
  return (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / 1e6;
}

/** Seconds the main thread spent runnable but waiting for a CPU between two snapshots. */
export function waitSecondsBetween(a: ProcStats, b: ProcStats): number {
  return (b.loopWaitNs - a.loopWaitNs) / 1e9;
}
