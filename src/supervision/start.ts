/**
 * `startCluster`: the entry point of a supervised application. The same entry file runs in
 * the master and, re-executed by `cluster.fork`, in every worker; `startCluster` runs the
 * `master` hook and the supervisor in the first, the `worker` hook in the others.
 */
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { busPipeSettings } from '../transports/cluster/bus-pipe.js';
import { busStats, configureBus, getBus } from '../bus.js';
import {
  EXIT_WORKERS_KILLED,
  resolveClusterOptions,
  type ClusterControl,
  type ClusterOptions,
  type ResolvedClusterOptions,
} from './cluster-options.js';
import { ControlServer } from '../ops/control-server.js';
import { BadOptionsError, StartFailedError } from '../errors.js';
import { Supervisor } from './supervisor.js';
import { installWorkerRuntime } from './worker-runtime.js';

let started = false;

/**
 * Starts the cluster. In the master: applies `bus` options, runs the `master` hook, forks
 * `workers` workers and supervises them; resolves to the master's `ClusterControl`. In a
 * worker: installs crash reporting and draining, runs the `worker` hook; resolves to
 * `undefined`.
 * @throws StartFailedError if called twice in one process; BadOptionsError for bad options.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterControl | undefined> {
  if (started) throw new StartFailedError('startCluster() was already called in this process');
  started = true;
  const resolved = resolveClusterOptions(options);
  if (resolved.bus?.transport !== undefined) {
    throw new BadOptionsError('startCluster runs the bus on the cluster: bus.transport is for buses without it');
  }
  if (resolved.bus) configureBus({ ...resolved.bus, logger: resolved.bus.logger ?? resolved.logger });
  else configureBus({ logger: resolved.logger });

  if (!cluster.isPrimary) {
    const runtime = installWorkerRuntime(resolved.logger, resolved.killTimeoutMs, resolved.drainIdleMs);
    getBus();
    try {
      await resolved.worker(runtime);
    } catch (err) {
      runtime.crash(err, 'worker hook failed');
    }
    return undefined;
  }

  if (resolved.serialization !== 'json' && resolved.serialization !== 'advanced') {
    throw new BadOptionsError(`serialization must be 'json' or 'advanced', got ${String(resolved.serialization)}`);
  }
  checkEntryFile();
  // Each worker gets a bus pipe next to its IPC channel (see bus-pipe.ts).
  cluster.setupPrimary({ serialization: resolved.serialization, stdio: busPipeSettings().stdio });
  const bus = getBus();
  if (!bus.router) throw new StartFailedError('the master has no router');
  // Across machines, workers are forked once this host knows every other one, so that nothing
  // they send is routed on a partial membership.
  try {
    await bus.ready;
  } catch (err) {
    bus.close();
    throw err;
  }
  const federation = bus.federation;
  const supervisor = new Supervisor(
    resolved,
    bus.router,
    (code) => {
      void bus.leave().finally(() => process.exit(code));
    },
    federation && (() => federation.status()),
  );
  if (resolved.reloadSignal) {
    process.on(resolved.reloadSignal, () => {
      resolved.logger.info('reload requested by signal', { signal: resolved.reloadSignal });
      supervisor.reload().catch(() => {
        // The supervisor has logged why; the old workers keep serving.
      });
    });
  }
  if (resolved.handleSignals) {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      resolved.logger.info('shutting down', { signal, shutdownTimeoutMs: resolved.shutdownTimeoutMs });
      // Whatever sent the signal kills the master after its own grace period (Docker 10 s,
      // Kubernetes 30 s): the master must be gone by shutdownTimeoutMs whatever still runs.
      setTimeout(() => {
        resolved.logger.error('shutdown deadline passed; exiting', { shutdownTimeoutMs: resolved.shutdownTimeoutMs });
        process.exit(EXIT_WORKERS_KILLED);
      }, resolved.shutdownTimeoutMs);
      let code = 0;
      void supervisor
        .shutdown()
        .then((report) => {
          if (report.killed.length > 0) {
            code = EXIT_WORKERS_KILLED;
            resolved.logger.warn('shutdown had to kill workers still serving at the deadline', {
              killed: report.killed.map((k) => k.pid).join(','),
              exitCode: code,
            });
          }
          return bus.leave();
        })
        .finally(() => process.exit(code));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  if (resolved.controlSocket !== false) {
    await ControlServer.open({
      socket: resolved.controlSocket,
      logger: resolved.logger,
      entry: cluster.settings.exec ?? process.argv[1],
      target: {
        status: () => supervisor.status(),
        reload: () => supervisor.reload(),
        get shuttingDown() {
          return supervisor.shuttingDown;
        },
        busStats: () => busStats(),
      },
    });
  }
  await runMasterHook(resolved, supervisor);
  supervisor.start();
  return supervisor;
}

/**
 * Runs the master hook. Workers are forked once it settles, or as soon as it waits for them
 * (`control.ready()`). A hook that never settles while nothing else keeps the process alive
 * would let Node exit 0 in silence: that is reported as a failure instead.
 */
async function runMasterHook(resolved: ResolvedClusterOptions, supervisor: Supervisor): Promise<void> {
  if (!resolved.master) return;
  let settled = false;
  const stuck = (): void => {
    if (settled) return;
    resolved.logger.error('the master hook never settled and nothing else keeps the master alive; exiting', {});
    process.exit(1);
  };
  process.once('beforeExit', stuck);
  try {
    await resolved.master(supervisor);
  } catch (err) {
    const fields: Record<string, unknown> = {
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
    if (err instanceof Error && typeof err.stack === 'string') fields.stack = err.stack;
    resolved.logger.error('master hook failed; stopping', fields);
    await supervisor.shutdown();
    throw err;
  } finally {
    settled = true;
    process.off('beforeExit', stuck);
  }
}

/**
 * Workers re-run the master's entry file; without one (`node -e`, `--eval`, the REPL, a script
 * on stdin) or with one that does not exist, every fork would fail for ever.
 */
function checkEntryFile(): void {
  const entry = cluster.settings.exec ?? process.argv[1];
  if (entry === undefined || entry === '' || entry === '-') {
    throw new StartFailedError(
      'startCluster needs an entry file to fork workers from; code run with node -e, --eval, --print, the REPL or ' +
        'stdin has none: put it in a file and run that file',
    );
  }
  if (!existsSync(entry)) {
    throw new StartFailedError(`startCluster cannot fork workers: the entry file ${entry} does not exist`);
  }
}
