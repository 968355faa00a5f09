/**
 * Reading one event: a property of an event interface becomes an event of the model, or
 * diagnostics. Its name, its marker, what its payload and result can carry, its options and
 * its doc comment are each checked by their own module; this one puts them in order and
 * decides, from the diagnostics, whether the event makes it into the model.
 */
import ts from './typescript.cjs';
import { Code } from '../diagnostics.js';
import type { EventModel, SourceLocation } from '../model.js';
import type { CrossableCheck } from './crossable.js';
import type { FileContext } from './file-context.js';
import { readJsDoc } from './jsdoc.js';
import type { MarkerReader, MarkerUse } from './markers.js';
import { readOptions } from './options.js';
import type { PlainnessCheck } from './plainness.js';
import type { FingerprintCheck } from './fingerprint.js';

/** What reading the events of one contract file needs. */
export interface EventChecks {
  readonly checker: ts.TypeChecker;
  readonly markers: MarkerReader;
  readonly crossable: CrossableCheck;
  readonly plainness: PlainnessCheck;
  readonly fingerprints: FingerprintCheck;
  readonly ctx: FileContext;
  /** The events read so far in the file, by name: an event name is declared once per file. */
  readonly seen: Map<string, SourceLocation>;
}

/** Where an event property is declared. */
export interface EventOwner {
  /** The interface's name in its declaration (for messages). */
  readonly declaredIn: string;
  /** The name the contract exports it under (for the generated import). */
  readonly interfaceName: string;
}

/**
 * Reads one member of an event interface (`marker`: the marker its type names, if any);
 * `undefined`, with a diagnostic, when it is not a valid event.
 */
export function readEvent(
  member: ts.TypeElement,
  marker: MarkerUse | undefined,
  owner: EventOwner,
  checks: EventChecks,
): EventModel | undefined {
  const { ctx } = checks;
  const { declaredIn } = owner;
  if (ts.isIndexSignatureDeclaration(member)) {
    ctx.report(
      Code.EventName,
      `an index signature cannot declare events in event interface ${declaredIn}: name each event with a string literal`,
      ctx.loc(member),
    );
    return undefined;
  }
  const name = member.name === undefined ? undefined : eventName(member.name);
  const shown = name === undefined ? (member.name?.getText(ctx.sf) ?? member.getText(ctx.sf)) : `'${name}'`;
  if (!ts.isPropertySignature(member) || marker === undefined) {
    const what = ts.isPropertySignature(member)
      ? member.type === undefined
        ? 'has no type'
        : `has type ${shorten(member.type.getText(ctx.sf))}`
      : 'is not a property';
    ctx.report(
      Code.UnknownMarker,
      `${shown} in event interface ${declaredIn} ${what}: every property of an event interface must be a Broadcast, Consume or MapCall event`,
      ctx.loc(ts.isPropertySignature(member) && member.type !== undefined ? member.type : member),
    );
    return undefined;
  }
  if (name === undefined || name === '' || name === '__proto__') {
    ctx.report(
      Code.EventName,
      name === ''
        ? 'an event name must not be empty'
        : name === '__proto__'
          ? "'__proto__' cannot be an event name: it is not an own property of an object literal"
          : `event name ${shown} is not a string literal: write the name as a string literal ('a.b') or an identifier`,
      ctx.loc(member.name),
    );
    return undefined;
  }
  const loc = ctx.loc(member.name);
  const first = checks.seen.get(name);
  if (first !== undefined) {
    ctx.report(
      Code.DuplicateEvent,
      `duplicate event '${name}': it is already declared at line ${first.line}, column ${first.col}`,
      loc,
    );
    return undefined;
  }
  checks.seen.set(name, loc);
  if (member.questionToken !== undefined) {
    ctx.report(
      Code.OptionalEvent,
      `event '${name}' is optional: remove the '?', every declared event exists`,
      ctx.loc(member.questionToken),
    );
    return undefined;
  }
  const before = ctx.diagnostics.length;
  const parts = checks.markers.markerParts(marker, member, name, ctx);
  if (parts === undefined) {
    if (ctx.diagnostics.length === before) {
      ctx.report(
        Code.UnknownMarker,
        `event '${name}': cannot read the payload of its marker`,
        ctx.loc(member.type ?? member),
      );
    }
    return undefined;
  }
  checks.crossable.check(parts.payload.type, 'payload', parts.payload.node, name);
  if (parts.result !== undefined) checks.crossable.check(parts.result.type, 'result', parts.result.node, name);
  const options =
    parts.options === undefined
      ? []
      : readOptions(checks.checker, marker.kind, parts.options.type, parts.options.node, name, ctx);
  // The hints are only worth working out for an event that makes it into the model.
  if (ctx.diagnostics.length > before) return undefined;
  return {
    name,
    kind: marker.kind,
    options,
    plainPayload: checks.plainness.of(parts.payload.type),
    plainResult: parts.result === undefined ? 'unknown' : checks.plainness.of(parts.result.type),
    fingerprint: checks.fingerprints.of(marker.kind, parts.payload.type, parts.result?.type, options),
    doc: readJsDoc(member, ctx.sf),
    interfaceName: owner.interfaceName,
    loc,
  };
}

/** The name of an event property, or `undefined` when it is not a string literal or an identifier. */
function eventName(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  if (ts.isComputedPropertyName(name)) {
    const expression = name.expression;
    if (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression)) return expression.text;
  }
  return undefined;
}

/** Source text on one line, cut to a readable length for a message. */
function shorten(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= 80 ? flat : `${flat.slice(0, 77)}...`;
}
