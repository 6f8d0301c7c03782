// The IPC protocol between the benchmark (parent) and its child processes (gateway, backend
// simulator). Both sides import this file, so the messages stay in one place.
import { readFileSync } from 'node:fs';
import { constants as perf, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

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
  /** GCs since the child was ready (countGcFromNow); absent from children of an older tree (--before). */
  gc?: GcCounts;
  /**
   * Main thread (the event loop), from /proc/self/schedstat: ns on a CPU, and ns runnable but
   * waiting for a CPU. Waiting time means other processes took the CPU. 0 where unavailable.
   */
  loopRunNs: number;
  loopWaitNs: number;
}

/**
 * Garbage collections, and how fast the old generation grows between full GCs. Objects of
 * finished requests that young-generation GCs (scavenges) promoted stay in memory until a full
 * GC, which V8 runs only once the old generation has grown to a multiple of its live size: that
 * growth per scavenge makes the heap (and the peak RSS) grow under load, and unlike the peak it
 * does not depend on the request rate.
 */
export interface GcCounts {
  scavenges: number;
  /** Mark-compacts (full GCs). */
  fullGcs: number;
  /**
   * Growth of the old generation (old space and large objects, bytes) over the sampling
   * intervals without a full GC, and the scavenges in those intervals.
   */
  oldGrowthBytes: number;
  oldGrowthScavenges: number;
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
const gc: GcCounts = { scavenges: 0, fullGcs: 0, oldGrowthBytes: 0, oldGrowthScavenges: 0 };
/** GCs reported by the observer, and the readings at the last sample (counting is off while oldBytes < 0). */
const seen = { minor: 0, major: 0 };
const last = { minor: 0, major: 0, oldBytes: -1 };

function oldGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'old_space' || s.space_name === 'large_object_space') n += s.space_used_size;
  return n;
}

/** Adds the GCs and the old generation's growth since the last sample to `gc`. */
function sampleGc(): void {
  if (last.oldBytes < 0) return;
  const oldBytes = oldGenerationBytes();
  const minor = seen.minor - last.minor;
  const major = seen.major - last.major;
  gc.scavenges += minor;
  gc.fullGcs += major;
  if (major === 0) {
    gc.oldGrowthBytes += Math.max(0, oldBytes - last.oldBytes);
    gc.oldGrowthScavenges += minor;
  }
  Object.assign(last, seen, { oldBytes });
}

/** Counts GCs from now on (call once the server is up: what start-up keeps is long-lived by design). */
export function countGcFromNow(): void {
  if (last.oldBytes >= 0) return;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perf.NODE_PERFORMANCE_GC_MINOR) seen.minor++;
      else if (kind === perf.NODE_PERFORMANCE_GC_MAJOR) seen.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  Object.assign(last, seen, { oldBytes: oldGenerationBytes() });
}

/** Samples memory every intervalMs, so a report can say what the peak RSS was made of. */
export function samplePeaks(intervalMs = 200): void {
  const sample = (): void => {
    const m = process.memoryUsage();
    peak.heapTotalBytes = Math.max(peak.heapTotalBytes, m.heapTotal);
    peak.externalBytes = Math.max(peak.externalBytes, m.external);
    peak.arrayBuffersBytes = Math.max(peak.arrayBuffersBytes, m.arrayBuffers);
    sampleGc();
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
    gc: { ...gc },
  };
}

export function cpuSecondsBetween(a: ProcStats, b: ProcStats): number {
  return (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / 1e6;
}

/** Seconds the main thread spent runnable but waiting for a CPU between two snapshots. */
export function waitSecondsBetween(a: ProcStats, b: ProcStats): number {
  return (b.loopWaitNs - a.loopWaitNs) / 1e9;
}
