/**
 * `clusterbus gen --watch`: runs the generator, then again whenever a contract or a file it
 * imports changes, or one of its outputs is deleted (fs.watch on their directories,
 * debounced). Contract errors are printed and the watcher keeps running.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ALL_OUTPUT_SUFFIXES } from './emit.js';
import { generate, type GenerateOptions, type GenerateResult } from './generate.js';
import { globBase } from './glob.js';

/** A running watcher. */
export interface Watcher {
  /** Stops watching. */
  close(): void;
}

/** How long to wait after the last change before regenerating. */
export const DEBOUNCE_MS = 100;

/**
 * Starts watching. `report` is called after every run (the first one included) with its
 * result, or with the error if the run threw.
 */
export function watch(options: GenerateOptions, report: (result: GenerateResult | Error) => void): Watcher {
  const watchers = new Map<string, fs.FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** The outputs of the last run, which are written again when deleted. */
  let outputs = new Set<string>();

  const run = (): void => {
    timer = undefined;
    if (closed) return;
    const startedAt = Date.now();
    let result: GenerateResult | Error;
    try {
      result = generate(options);
    } catch (error) {
      result = error instanceof Error ? error : new Error(String(error));
    }
    if (!(result instanceof Error)) outputs = new Set(result.plan.map((p) => p.file));
    // Watch before reporting, so whoever waits for the report sees every later change.
    updateWatchers(result instanceof Error ? undefined : result);
    report(result);
    // A file that changed while the run read it (before its directory was watched) runs again.
    if (
      !(result instanceof Error) &&
      [...result.contracts, ...result.dependencies].some((f) => changedSince(f, startedAt))
    ) {
      schedule(null);
    }
  };

  const schedule = (filename: string | null, dir?: string): void => {
    if (closed) return;
    // Our own writes (outputs and their temporary files) and removals (the files of the other
    // language) do not trigger a run; an output that was deleted does, and is written again.
    if (filename !== null && filename.endsWith('.tmp')) return;
    if (filename !== null && ALL_OUTPUT_SUFFIXES.some((suffix) => filename.endsWith(suffix))) {
      if (dir === undefined) return;
      const file = path.join(dir, filename);
      if (!outputs.has(file) || fs.existsSync(file)) return;
    }
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  };

  const updateWatchers = (result: GenerateResult | undefined): void => {
    const dirs = new Set<string>();
    for (const pattern of options.patterns) dirs.add(globBase(pattern, options.cwd));
    for (const file of result?.contracts ?? []) dirs.add(path.dirname(file));
    for (const file of result?.dependencies ?? []) dirs.add(path.dirname(file));
    for (const write of result?.plan ?? []) dirs.add(path.dirname(write.file));
    for (const [dir, watcher] of watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, { persistent: true }, (_event, filename) => {
          schedule(filename === null ? null : String(filename), dir);
        });
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch {
        // The directory does not exist (yet): a later run retries.
      }
    }
  };

  run();
  return {
    close(): void {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

function changedSince(file: string, time: number): boolean {
  try {
    return fs.statSync(file).mtimeMs >= time;
  } catch {
    return true;
  }
}
