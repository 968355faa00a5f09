/**
 * `startCluster`: the entry point of a supervised application. The same entry file runs in
 * the master and, re-executed by `cluster.fork`, in every worker; `startCluster` runs the
 * `master` hook and the supervisor in the first, the `worker` hook in the others.
 */
import cluster from 'node:cluster';
import { busPipeSettings } from './bus-pipe.js';
import { configureBus, getBus } from './bus.js';
import { resolveClusterOptions, type ClusterControl, type ClusterOptions } from './cluster-options.js';
import { BadOptionsError, StartFailedError } from './errors.js';
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
  if (resolved.bus) configureBus({ ...resolved.bus, logger: resolved.bus.logger ?? resolved.logger });
  else configureBus({ logger: resolved.logger });

  if (!cluster.isPrimary) {
    const runtime = installWorkerRuntime(resolved.logger, resolved.killTimeoutMs);
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
  // Each worker gets a bus pipe next to its IPC channel (see bus-pipe.ts).
  cluster.setupPrimary({ serialization: resolved.serialization, stdio: busPipeSettings().stdio });
  const bus = getBus();
  if (!bus.broker) throw new StartFailedError('the master has no broker');
  const supervisor = new Supervisor(resolved, bus.broker);
  if (resolved.reloadSignal) {
    process.on(resolved.reloadSignal, () => {
      resolved.logger.info('reload requested by signal', { signal: resolved.reloadSignal });
      supervisor.reload().catch(() => {
        // The supervisor has logged why; the old workers keep serving.
      });
    });
  }
  if (resolved.handleSignals) {
    const stop = (signal: NodeJS.Signals): void => {
      resolved.logger.info('shutting down', { signal });
      void supervisor.shutdown().then(() => {
        bus.close();
        process.exit(0);
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  await resolved.master?.(supervisor);
  supervisor.start();
  return supervisor;
}
