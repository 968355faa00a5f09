/**
 * Reading an event's options (the marker's last type argument). The generator copies their
 * values into the generated table, so each must be a single literal type the checker can
 * give a value for: the contract stays the one place where an event's settings are written.
 */
import ts from './typescript.cjs';
import { Code } from '../diagnostics.js';
import { EVENT_OPTIONS, MARKER_NAMES, type EventKind, type EventOption, type OptionName } from '../model.js';
import type { FileContext } from './file-context.js';

/**
 * Checks the options of an event (`type`, written at `node`) and returns them in the
 * canonical order of {@link EVENT_OPTIONS}. Every problem is reported to `ctx`; a problem
 * option is left out of the result.
 */
export function readOptions(
  checker: ts.TypeChecker,
  kind: EventKind,
  type: ts.Type,
  node: ts.Node,
  event: string,
  ctx: FileContext,
): EventOption[] {
  const allowed: Readonly<Record<string, 'number' | 'boolean'>> = EVENT_OPTIONS[kind];
  const marker = MARKER_NAMES[kind];
  if (
    type.flags & ts.TypeFlags.Any ||
    !(type.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) ||
    checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0
  ) {
    ctx.report(
      Code.NonLiteralOption,
      `event '${event}': the options of a ${marker} must be an object type with literal properties, such as { timeoutMs: 5000 }, not ${checker.typeToString(type)}`,
      ctx.loc(node),
    );
    return [];
  }
  if (checker.getIndexInfosOfType(type).length > 0) {
    ctx.report(
      Code.NonLiteralOption,
      `event '${event}': the options of a ${marker} must not have an index signature`,
      ctx.loc(node),
    );
    return [];
  }
  if (kind !== 'map' && looksLikeAResult(checker, type)) {
    ctx.report(
      Code.ResultOnConsume,
      `event '${event}': a ${marker} has no result: its second type argument is its options (${Object.keys(allowed).join(', ')}), ` +
        `and ${checker.typeToString(type)} has none of them; for one answer per worker, declare it MapCall<Payload, Result>`,
      ctx.loc(node),
    );
    return [];
  }
  const values = new Map<OptionName, number | boolean>();
  for (const property of checker.getPropertiesOfType(type)) {
    const name = property.getName();
    const where = ctx.locOfDeclaration(property, node);
    const expected = allowed[name];
    if (expected === undefined) {
      const names = Object.keys(allowed);
      const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
      ctx.report(
        Code.UnknownOption,
        `event '${event}': unknown option '${name}' for a ${marker}${near === undefined ? '' : ` (did you mean '${near}'?)`}; its options are ${names.join(', ')}`,
        where,
      );
      continue;
    }
    if (property.flags & ts.SymbolFlags.Optional) {
      ctx.report(
        Code.NonLiteralOption,
        `event '${event}': option '${name}' must not be optional: give it a literal value or leave it out`,
        where,
      );
      continue;
    }
    const valueType = checker.getTypeOfSymbolAtLocation(property, node);
    const shown = checker.typeToString(valueType);
    const example = expected === 'number' ? '5000' : 'true';
    if (expected === 'number' && valueType.flags & ts.TypeFlags.NumberLiteral) {
      const value = (valueType as ts.NumberLiteralType).value;
      if (!Number.isSafeInteger(value) || value <= 0) {
        ctx.report(
          Code.OptionValue,
          `event '${event}': option '${name}' must be a positive integer, not ${shown}`,
          where,
        );
        continue;
      }
      values.set(name as OptionName, value);
      continue;
    }
    if (expected === 'boolean' && valueType.flags & ts.TypeFlags.BooleanLiteral) {
      values.set(name as OptionName, shown === 'true');
      continue;
    }
    // A number where a number literal is needed is a different mistake (CBG003) from a string (CBG005).
    const sameFamily =
      expected === 'number' ? isOnly(valueType, ts.TypeFlags.NumberLike) : isOnly(valueType, ts.TypeFlags.BooleanLike);
    if (sameFamily || valueType.flags & ts.TypeFlags.Any) {
      ctx.report(
        Code.NonLiteralOption,
        `event '${event}': option '${name}' must be a ${expected} literal such as ${example}, not ${shown}: the generator reads its value from the contract`,
        where,
      );
    } else {
      ctx.report(
        Code.OptionType,
        `event '${event}': option '${name}' must be a ${expected} literal such as ${example}, not ${shown}`,
        where,
      );
    }
  }
  return Object.keys(allowed).flatMap((name) => {
    const value = values.get(name as OptionName);
    return value === undefined ? [] : [{ name: name as OptionName, value }];
  });
}

/** Whether `type` (or every member of a union) has one of `flags`. */
function isOnly(type: ts.Type, flags: ts.TypeFlags): boolean {
  if (type.isUnion()) return type.types.every((t) => isOnly(t, flags));
  return (type.flags & flags) !== 0;
}

/** Every option name of every kind, lower-cased: a near miss of one is a typo, not a result type. */
const ANY_OPTION = new Set(Object.values(EVENT_OPTIONS).flatMap((o) => Object.keys(o).map((n) => n.toLowerCase())));

/** Whether options `type` has properties, none of them an option of any kind: a result type in the wrong place. */
function looksLikeAResult(checker: ts.TypeChecker, type: ts.Type): boolean {
  const names = checker.getPropertiesOfType(type).map((p) => p.getName().toLowerCase());
  return names.length > 0 && names.every((n) => !ANY_OPTION.has(n));
}
