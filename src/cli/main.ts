/**
 * The run-time part of the `clusterbus` command: `status` (`ls`) and `reload`, which talk to a
 * running master over its control socket, and the help that lists every command. `gen` is the
 * code generator's (`bin/clusterbus.js` hands it every other command), which this module never
 * loads.
 *
 *     clusterbus status [--json] [--pid PID | --socket PATH]
 *     clusterbus reload [--json] [--pid PID | --socket PATH]
 *
 * Exit status: 0 done, 1 no master found or reachable, or the reload failed, 2 usage error.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ControlSocketError } from '../errors.js';
import { findMaster, request } from '../ops/client.js';
import type { ReloadReport, StatusReport, WorkerReport } from '../ops/protocol.js';
import { RUNTIME_DIR_ENV } from '../ops/runtime-dir.js';

/** Where the command prints, which directory and environment it works in. */
export interface CliIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** The commands this module runs; `bin/clusterbus.js` gives every other one to the generator. */
export const RUNTIME_COMMANDS: readonly string[] = ['status', 'ls', 'reload'];

const HELP = ['-h', '--help', 'help'];

export const USAGE = `Usage: clusterbus <command> [options]

Commands:
  status, ls   the running master's workers (id, slot, pid, state, uptime, restarts,
               last exit reason, memory, CPU) and its bus counters
  reload       a rolling reload of every worker, one at a time; prints the outcome
  gen          generate the typed messenger from contract files (clusterbus gen --help)

Options of status and reload:
  --json          print JSON instead of a table, for scripts
  --pid PID       the master with this pid
  --socket PATH   the master listening on this control socket (a master started with
                  controlSocket: '<path>')
  -h, --help      print this help

Without --pid or --socket they talk to the one master of this user running in the current
directory. Masters listen in $${RUNTIME_DIR_ENV}, else $XDG_RUNTIME_DIR/clusterbus, else
<tmpdir>/clusterbus-<uid>; only the user that runs a master can open its socket.

Exit status: 0 done; 1 no master found or reachable, or the reload failed; 2 usage error.
`;

/** Whether `argv` is this module's to run (a run-time command, or the help of them all). */
export function handles(argv: readonly string[]): boolean {
  const [command] = argv;
  return command === undefined || HELP.includes(command) || RUNTIME_COMMANDS.includes(command);
}

interface Command {
  readonly name: 'status' | 'reload';
  readonly json: boolean;
  readonly pid: number | undefined;
  readonly socket: string | undefined;
}

class UsageError extends Error {}

function parse(argv: readonly string[]): Command | 'help' {
  const [command, ...rest] = argv;
  if (command === undefined || HELP.includes(command)) return 'help';
  if (!RUNTIME_COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}'`);
  let json = false;
  let pid: number | undefined;
  let socket: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (HELP.includes(flag)) return 'help';
    else if (flag === '--json') json = true;
    else if (flag === '--pid') {
      const v = value();
      pid = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(pid) || pid <= 0)
        throw new UsageError(`--pid needs a process id, got '${v}'`);
    } else if (flag === '--socket') socket = value();
    else throw new UsageError(`unknown option '${arg}'`);
  }
  if (pid !== undefined && socket !== undefined) throw new UsageError('--pid and --socket cannot be combined');
  return { name: command === 'reload' ? 'reload' : 'status', json, pid, socket };
}

/**
 * Runs the command line `argv` (without `node` and the script) and resolves to the exit
 * status; never rejects.
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let command: Command | 'help';
  try {
    command = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`clusterbus: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (command === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    const master = await findMaster({ cwd: io.cwd, env: io.env, pid: command.pid, socket: command.socket });
    // A status takes about half a second (CPU is measured over a window); a reload as long as it runs.
    const answer = await request(master.socket, command.name, command.name === 'status' ? 15_000 : undefined);
    if (!answer.ok) {
      io.stderr.write(`clusterbus ${command.name}: the master refused: ${answer.error}\n`);
      return 1;
    }
    if ('status' in answer) {
      io.stdout.write(command.json ? JSON.stringify(answer.status, null, 2) + '\n' : formatStatus(answer.status));
      return 0;
    }
    if ('reload' in answer) {
      io.stdout.write(command.json ? JSON.stringify(answer.reload, null, 2) + '\n' : formatReload(answer.reload));
      return answer.reload.ok ? 0 : 1;
    }
    io.stderr.write(`clusterbus ${command.name}: the master answered something else\n`);
    return 1;
  } catch (err) {
    const message =
      err instanceof ControlSocketError
        ? `${err.message} [${err.code}]`
        : err instanceof Error
          ? err.message
          : String(err);
    io.stderr.write(`clusterbus ${command.name}: ${message}\n`);
    return 1;
  }
}

// ---- formatting ------------------------------------------------------------------------

/** `4s`, `3m 12s`, `2h 05m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `512 KiB`, `48.2 MiB`, `1.1 GiB`; `-` when unknown. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function formatCpu(percent: number | undefined): string {
  return percent === undefined ? '-' : `${percent.toFixed(1)}%`;
}

/** Longest last exit reason shown in the table; `--json` has it whole. */
const REASON_WIDTH = 60;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function reasonCell(reason: string | undefined): string {
  if (reason === undefined) return '-';
  const one = reason.replace(/\s+/g, ' ');
  return one.length > REASON_WIDTH ? `${one.slice(0, REASON_WIDTH - 1)}…` : one;
}

/** The table `clusterbus status` prints. */
export function formatStatus(s: StatusReport): string {
  const m = s.master;
  let out =
    `master ${m.pid} on ${m.host}, up ${formatDuration(m.uptimeMs)}, ${m.entry ?? ''} in ${m.cwd}\n` +
    `  node ${m.node}, memory ${formatBytes(m.rssBytes)}, CPU ${formatCpu(m.cpuPercent)}, ` +
    `${s.healthy ? 'healthy' : 'NOT healthy'}` +
    (s.reloading ? ', reloading' : '') +
    (m.shuttingDown ? ', SHUTTING DOWN' : '') +
    '\n\n';
  const rows: string[][] = s.workers.map((w: WorkerReport) => [
    String(w.id),
    String(w.index),
    w.pid === undefined ? '-' : String(w.pid),
    w.state,
    formatDuration(w.uptimeMs),
    String(w.restarts),
    formatBytes(w.rssBytes),
    formatCpu(w.cpuPercent),
    reasonCell(w.lastExitReason),
  ]);
  // A slot with no worker alive is waiting to fork one again: show it, or it would go unseen.
  for (const slot of s.slots) {
    if (s.workers.some((w) => w.index === slot.index)) continue;
    const next = slot.nextForkInMs === undefined ? '' : ` (fork in ${(slot.nextForkInMs / 1000).toFixed(1)}s)`;
    rows.push([
      '-',
      String(slot.index),
      '-',
      `${slot.state}${next}`,
      '-',
      String(slot.restarts),
      '-',
      '-',
      reasonCell(slot.lastExitReason),
    ]);
  }
  rows.sort((a, b) => Number(a[1]) - Number(b[1]) || Number(a[0]) - Number(b[0]));
  out += table(['ID', 'SLOT', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'MEMORY', 'CPU', 'LAST EXIT'], rows);
  const b = s.bus.broker;
  if (b) {
    const ready = b.peers.filter((p) => p.state === 'ready').length;
    out +=
      `\nbus: ${b.peers.length} peers (${ready} ready), ${b.pendingRequests} pending requests, ` +
      `${b.pendingDeliveries} pending deliveries, ${b.parkedRequests} waiting for a starting worker\n` +
      `     ${b.redelivered} redelivered, ${b.unhandledBroadcasts} unhandled broadcasts, ` +
      `${b.contractMismatches} contract mismatches, ${b.malformed} malformed dropped, ` +
      `${b.dedupeKeys} dedupe keys (${b.dedupeEvicted} forgotten)\n`;
  }
  if (s.nats) out += `nats: ${s.nats.connected ? 'connected' : 'NOT connected'}, ${s.nats.hosts.length} other hosts\n`;
  out += `(memory is resident; CPU over ${s.sampleWindowMs} ms, 100% = one core)\n`;
  return out;
}

/** What `clusterbus reload` prints. */
export function formatReload(r: ReloadReport): string {
  const took = `${(r.durationMs / 1000).toFixed(1)} s`;
  const lines = r.replaced.map((x) => `  slot ${x.slot}: pid ${x.fromPid ?? '-'} -> ${x.toPid ?? '-'}`);
  const head = r.ok
    ? `reload done in ${took}: ${r.replaced.length} worker${r.replaced.length === 1 ? '' : 's'} replaced\n`
    : `reload FAILED after ${took}: ${r.error?.message ?? 'unknown reason'}${r.error?.code ? ` [${r.error.code}]` : ''}\n` +
      (r.replaced.length > 0
        ? 'replaced before it stopped:\n'
        : 'no worker was replaced; the old workers keep serving\n');
  return head + (lines.length > 0 ? lines.join('\n') + '\n' : '');
}

/** Whether this module is the program node was started with (not imported by bin/ or a test). */
function isEntryModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return fs.realpathSync(entry) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryModule()) {
  process.exitCode = await main(process.argv.slice(2));
}
