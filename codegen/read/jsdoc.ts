/**
 * Doc comments of events, carried over to the generated table so that editors show an
 * event's documentation where the messenger is used, not only in the contract.
 */
import ts from './typescript.cjs';

/**
 * The JSDoc of a node as lines without delimiters or leading `*`: the last `/** … *\/`
 * comment before it (the one an editor shows). Blank lines at both ends and trailing
 * spaces are dropped; `undefined` when there is none.
 */
export function readJsDoc(node: ts.Node, sf: ts.SourceFile): readonly string[] | undefined {
  const text = sf.getFullText();
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const last = [...ranges]
    .reverse()
    .find((r) => r.kind === ts.SyntaxKind.MultiLineCommentTrivia && text.startsWith('/**', r.pos) && r.end - r.pos > 4);
  if (last === undefined) return undefined;
  const body = text.slice(last.pos + 3, last.end - 2);
  const lines = body.split(/\r?\n/).map((line, i) => {
    if (i === 0) return line.trim();
    const star = /^\s*\* ?/.exec(line);
    return (star === null ? line.trimStart() : line.slice(star[0].length)).trimEnd();
  });
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length === 0 ? undefined : lines;
}
