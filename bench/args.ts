/** The command line of `npm run bench`. */
import {
  CLUSTER_MODES,
  HOST_SYSTEMS,
  PAYLOADS,
  SYSTEMS,
  TOOL_MODES,
  type ClusterMode,
  type HostSystemName,
  type PayloadKind,
  type SystemName,
  type ToolMode,
} from './protocol.js';

/**
 * `hosts` is the whole hosts section (every mode of it, and `host-death`); `consume-latency`
 * and `host-death` exist only there. A cluster mode selects its rows in both sections.
 */
export type SectionMode = 'consume-latency' | 'hosts' | 'host-death';
export type Mode = ClusterMode | SectionMode | ToolMode;
export const MODES: readonly Mode[] = [...CLUSTER_MODES, 'consume-latency', 'hosts', 'host-death', ...TOOL_MODES];

/** Any system: of the cluster rows or of the hosts section. */
export type AnySystemName = SystemName | HostSystemName;
export const ALL_SYSTEMS: readonly AnySystemName[] = [...SYSTEMS, ...HOST_SYSTEMS];

export interface Options {
  readonly quick: boolean;
  readonly workers: number;
  /** Rounds of every cluster row (and repeats of every tooling measurement). */
  readonly rounds: number;
  readonly modes: readonly Mode[];
  readonly systems: readonly AnySystemName[];
  readonly payloads: readonly PayloadKind[];
  /** Only what was given on the command line, to print the command that reruns one row. */
  readonly given: { readonly quick: boolean; readonly workers?: number; readonly rounds?: number };
}

export const USAGE = `Usage: npm run bench -- [options]

Runs relay, think, superjson-relay, clusterbus and clusterbus+nats side by side on one
machine, then two hosts of clusterbus over NATS against the NATS client used directly
(clusterbus-nats, raw-nats), in interleaved rounds; then times \`clusterbus gen\` and \`tsc\` on
generated contracts. Writes bench/results/<timestamp>.jsonl.

Options:
  --quick             fewer rounds and smaller counts (under two minutes)
  --workers N         workers per cluster of the cluster rows (default 2; a host has 2)
  --rounds N          rounds per row (default 5, quick 2)
  --only a,b          modes: ${MODES.join(', ')}
                      (a cluster mode runs in both sections; hosts = the whole hosts section)
  --systems a,b       systems: ${ALL_SYSTEMS.join(', ')}
  --payloads a,b      payloads: ${PAYLOADS.join(', ')}
  -h, --help          this help

  npm run bench -- --only hosts                    the hosts section only
  npm run bench -- --systems clusterbus,clusterbus+nats --only map
`;

export class UsageError extends Error {}

function list<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T[] {
  if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
  const items = value.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${flag}: unknown '${item}' (one of ${allowed.join(', ')})`);
    }
  }
  // Keep the canonical order whatever the order given.
  return allowed.filter((a) => items.includes(a));
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} needs a whole number >= 1`);
  return n;
}

export function parseArgs(argv: readonly string[]): Options | 'help' {
  let quick = false;
  let workers: number | undefined;
  let rounds: number | undefined;
  let modes: Mode[] = [...MODES];
  let systems: AnySystemName[] = [...ALL_SYSTEMS];
  let payloads: PayloadKind[] = [...PAYLOADS];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (flag !== raw ? raw.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--quick':
        quick = true;
        break;
      case '--workers':
        workers = positive(flag, value());
        break;
      case '--rounds':
        rounds = positive(flag, value());
        break;
      case '--only':
        modes = list(flag, value(), MODES);
        break;
      case '--systems':
        systems = list(flag, value(), ALL_SYSTEMS);
        break;
      case '--payloads':
        payloads = list(flag, value(), PAYLOADS);
        break;
      default:
        throw new UsageError(`unknown argument '${raw}'`);
    }
  }
  return {
    quick,
    workers: workers ?? 2,
    rounds: rounds ?? (quick ? 2 : 5),
    modes,
    systems,
    payloads,
    given: {
      quick,
      ...(workers !== undefined ? { workers } : {}),
      ...(rounds !== undefined ? { rounds } : {}),
    },
  };
}

/**
 * The `npm run bench` command that reruns only `mode` (and `payload`) with these options; for
 * a row, `systems` keeps it to its section (a cluster mode runs in both).
 */
export function rerunCommand(
  options: Options,
  mode: Mode,
  payload?: PayloadKind,
  systems?: readonly AnySystemName[],
): string {
  const parts = ['npm run bench --'];
  if (options.quick) parts.push('--quick');
  parts.push('--workers', String(options.workers), '--rounds', String(options.rounds), '--only', mode);
  if (payload) parts.push('--payloads', payload);
  const chosen = systems ?? options.systems;
  if (chosen.length !== ALL_SYSTEMS.length) parts.push('--systems', chosen.join(','));
  return parts.join(' ');
}
