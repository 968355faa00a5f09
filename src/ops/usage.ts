/**
 * Memory and CPU of the master and its workers, measured by the master when someone asks
 * (`clusterbus status`), never in the background.
 *
 * The workers are read by pid from `/proc` rather than asked over IPC: it costs them nothing,
 * and a worker whose event loop is stuck (the one an operator most wants to see, at 100% CPU)
 * could not answer. `/proc` is Linux only; elsewhere a worker's figures are `undefined`. The
 * master reads its own through `process.memoryUsage` and `process.cpuUsage` on every platform.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { ProcessUsage } from './protocol.js';

/**
 * Clock ticks per second of `/proc/<pid>/stat`'s CPU times (`USER_HZ`). The kernel exports
 * 100 to user space on every architecture Node.js runs on, whatever its internal `HZ`.
 */
const USER_HZ = 100;

interface CpuSample {
  /** CPU seconds used (user + system), all threads. */
  readonly cpuSeconds: number;
  readonly at: number;
}

/** CPU seconds of a process from `/proc/<pid>/stat`, or undefined if it cannot be read. */
async function procCpuSeconds(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may hold spaces: count fields after its closing one.
  // There, field 1 is the state (stat's 3rd), so utime and stime (14th, 15th) are 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
}

/** Resident memory of a process from `/proc/<pid>/status` (`VmRSS`, in kB), or undefined. */
async function procRssBytes(pid: number): Promise<number | undefined> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

async function sampleCpu(pid: number): Promise<CpuSample | undefined> {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return { cpuSeconds: (user + system) / 1e6, at: performance.now() };
  }
  if (process.platform !== 'linux') return undefined;
  const cpuSeconds = await procCpuSeconds(pid);
  return cpuSeconds === undefined ? undefined : { cpuSeconds, at: performance.now() };
}

async function rssBytes(pid: number): Promise<number | undefined> {
  if (pid === process.pid) return process.memoryUsage.rss();
  return process.platform === 'linux' ? procRssBytes(pid) : undefined;
}

/**
 * Measures `pids` (this process among them, or not): memory now, and CPU over `windowMs`
 * (two readings that far apart; a single reading only gives the average since the process
 * started, which hides a worker that just began to spin).
 */
export async function sampleUsage(pids: readonly number[], windowMs: number): Promise<Map<number, ProcessUsage>> {
  const unique = [...new Set(pids)];
  const first = await Promise.all(unique.map(sampleCpu));
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const [second, memory] = await Promise.all([Promise.all(unique.map(sampleCpu)), Promise.all(unique.map(rssBytes))]);
  const out = new Map<number, ProcessUsage>();
  unique.forEach((pid, i) => {
    const a = first[i];
    const b = second[i];
    const elapsed = a && b ? (b.at - a.at) / 1000 : 0;
    const cpuPercent =
      a && b && elapsed > 0 ? Math.round((Math.max(0, b.cpuSeconds - a.cpuSeconds) / elapsed) * 1000) / 10 : undefined;
    out.set(pid, { rssBytes: memory[i], cpuPercent });
  });
  return out;
}
