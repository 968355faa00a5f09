/**
 * The TypeScript the read stage works with: the one ts-morph bundles (the generator never
 * loads the `typescript` package). Loaded with `require`, from this CommonJS module, because
 * Node prepares an ES `import` of a CommonJS module by scanning its whole source for export
 * names first, which for ts-morph's bundle took a fifth of every `clusterbus gen` run.
 * Import it as `import ts from './typescript.cjs'`: `ts` is then both the namespace of values
 * (`ts.SyntaxKind`) and of types (`ts.Type`).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS import, see above
import tsMorph = require('ts-morph');

export = tsMorph.ts;
