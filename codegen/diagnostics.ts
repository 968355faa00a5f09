/**
 * Diagnostics of the generator: a stable code per problem, an optional source location and
 * a message. Printed as `path:line:col error CBGnnn message` (path relative to the working
 * directory, POSIX separators). Every code is documented in docs/codegen.md; codes are
 * never reused for another problem.
 */
import path from 'node:path';
import type { SourceLocation } from './model.js';

/** Every diagnostic code, by what it reports. */
export const Code = {
  /** A property of an event interface whose type is not `Broadcast`, `Consume` or `MapCall`. */
  UnknownMarker: 'CBG001',
  /** The same event name declared twice in one contract file. */
  DuplicateEvent: 'CBG002',
  /** An option whose type is not a single literal (`timeoutMs: number`), or options that are not an object type. */
  NonLiteralOption: 'CBG003',
  /** An option the event's kind does not know (`timeoutMS`, `redeliver` on a `Broadcast`). */
  UnknownOption: 'CBG004',
  /** An option whose literal has the wrong type (`timeoutMs: '5000'`, `redeliver: 1`). */
  OptionType: 'CBG005',
  /** A numeric option that is not a positive safe integer (`timeoutMs: 0`, `maxPayloadBytes: 1.5`). */
  OptionValue: 'CBG006',
  /** A payload or result type that cannot cross a process boundary (a function, a symbol, a `Promise`, …). */
  NotSerializable: 'CBG007',
  /** An event interface that is not exported by name. */
  NotExported: 'CBG008',
  /** An event whose name is not a string literal or an identifier (computed, numeric, index signature, empty, `__proto__`). */
  EventName: 'CBG009',
  /** A contract file that declares no event interface. */
  NoEvents: 'CBG010',
  /** An event interface with type parameters. */
  GenericInterface: 'CBG011',
  /** An optional event (`'a.b'?: Broadcast<…>`). */
  OptionalEvent: 'CBG012',
  /** A syntax error in a contract file. */
  Syntax: 'CBG013',
  /** An event interface that extends another interface. */
  ExtendsInterface: 'CBG014',
  /** A `Consume` or `Broadcast` given a result type where its options go (a result needs `MapCall`). */
  ResultOnConsume: 'CBG015',

  /** No contract file matches the given files or globs. */
  NoContracts: 'CBG101',
  /** A file given to `gen` whose name does not end in `.contract.ts`. */
  NotAContract: 'CBG102',
  /** Two contracts would write the same output file. */
  OutputCollision: 'CBG103',
  /** An output file exists and was not written by clusterbus: it is left alone. */
  NotGenerated: 'CBG104',
  /** `--check`: an output file is out of date. */
  Stale: 'CBG105',
  /** `--check`: an output file does not exist. */
  Missing: 'CBG106',
  /** A command-line or configuration error. */
  Usage: 'CBG107',
  /** `--check`: a generated file of another output flavor (`X.bus.ts` next to `X.bus.js`…) is still there. */
  Superseded: 'CBG108',
} as const;

/** A diagnostic code. */
export type DiagnosticCode = (typeof Code)[keyof typeof Code];

/** One problem found by the generator. */
export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly message: string;
  /** Where; a file-level problem points at 1:1, a command-line problem has no location. */
  readonly loc?: SourceLocation | undefined;
  /** A file the problem is about, when it has no line (an output file in `--check`). */
  readonly file?: string | undefined;
}

/** Creates a diagnostic. */
export function diagnostic(code: DiagnosticCode, message: string, loc?: SourceLocation): Diagnostic {
  return loc === undefined ? { code, message } : { code, message, loc };
}

/** `file` relative to `cwd`, with POSIX separators. */
export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return (rel === '' ? '.' : rel).split(path.sep).join('/');
}

/** Formats a diagnostic as `path:line:col error CBGnnn message`. */
export function formatDiagnostic(d: Diagnostic, cwd: string): string {
  if (d.loc !== undefined) {
    return `${displayPath(d.loc.file, cwd)}:${d.loc.line}:${d.loc.col} error ${d.code} ${d.message}`;
  }
  if (d.file !== undefined) return `${displayPath(d.file, cwd)} error ${d.code} ${d.message}`;
  return `error ${d.code} ${d.message}`;
}

/** Sorts diagnostics by file, line, column, code, message (a stable, reproducible order). */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic): [string, number, number] => [
    d.loc?.file ?? d.file ?? '',
    d.loc?.line ?? 0,
    d.loc?.col ?? 0,
  ];
  return [...list].sort((a, b) => {
    const [fa, la, ca] = key(a);
    const [fb, lb, cb] = key(b);
    if (fa !== fb) return fa < fb ? -1 : 1;
    if (la !== lb) return la - lb;
    if (ca !== cb) return ca - cb;
    if (a.code !== b.code) return a.code < b.code ? -1 : 1;
    return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
  });
}
