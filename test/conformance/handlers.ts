// The handlers every peer of a conformance run registers, whatever its transport: the same
// behaviour in a simulated worker (memory) and in a real worker process (cluster).

/** What a scenario asks of a worker through a payload. */
export interface Ask {
  /** A tag the worker records or echoes. */
  tag?: string;
  /** This worker never answers. */
  hangOn?: number;
  /** This worker answers after `delayMs`. */
  slowOn?: number;
  delayMs?: number;
  /** This worker returns a result of this many characters. */
  bigOn?: number;
  big?: number;
}

type On = (event: string, handler: (payload: unknown) => unknown) => void;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const never = (): Promise<never> => new Promise(() => {});

/** Registers the conformance handlers of worker `me`; its records are what it received, in order. */
export function registerHandlers(on: On, me: number, records: string[]): void {
  on('conf.note', (p) => void records.push(`note:${String(p)}`));
  on('conf.job', async (p) => {
    const ask = p as Ask;
    records.push(`job:${ask.tag ?? ''}`);
    if (ask.hangOn === me) await never();
    if (ask.slowOn === me) await sleep(ask.delayMs ?? 0);
  });
  on('conf.ask', async (p) => {
    const ask = p as Ask;
    if (ask.hangOn === me) await never();
    if (ask.slowOn === me) await sleep(ask.delayMs ?? 0);
    if (ask.bigOn === me) return 'x'.repeat(ask.big ?? 0);
    return { me, tag: ask.tag ?? '' };
  });
  on('conf.records', () => ({ me, records }));
}
