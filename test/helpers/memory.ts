// Memory growth of the process it runs in, measured on the live heap: shared by tests that flood
// a process and fixtures that report how much a flood made them hold.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Largest growth of this process's memory over a baseline, in bytes. */
export interface MemoryGrowth {
  /** Resident set: the V8 heap, native buffers (such as a channel's unwritten data) and the rest. */
  rss: number;
  /** Live V8 heap (measured right after a full collection). */
  heap: number;
  /** Memory of array buffers and other external memory V8 knows about. */
  external: number;
}

let gc: (() => void) | undefined;

/**
 * Samples `process.memoryUsage()` every `everyMs`, each time right after a full garbage
 * collection: what is measured is what the process holds, not garbage it has not yet
 * collected (a flood makes plenty, and V8 lets it pile up well past 100 MB before collecting).
 */
export function memorySampler(everyMs: number) {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  const collect = gc;
  collect();
  const base = process.memoryUsage();
  const peak: MemoryGrowth = { rss: 0, heap: 0, external: 0 };
  const sample = (): void => {
    collect();
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss - base.rss);
    peak.heap = Math.max(peak.heap, now.heapUsed - base.heapUsed);
    peak.external = Math.max(peak.external, now.external - base.external);
  };
  const timer = setInterval(sample, everyMs);
  let stopped = false;
  return {
    /** Stops sampling (once); the peak growth over the baseline. */
    stop(): MemoryGrowth {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        sample();
      }
      return { ...peak };
    },
  };
}
