// typescript-eslint and its helper ts-api-utils `require('typescript')`. npm hoists
// ts-api-utils to the root, where `typescript` is the project's TypeScript 7, which has no
// JS API. Point every CommonJS `require('typescript')` made while linting at this
// workspace's TypeScript 6. Imported first by config.js, so it runs before typescript-eslint loads.
import { createRequire } from 'node:module';
import Module from 'node:module';

const typescript6 = createRequire(import.meta.url).resolve('typescript');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'typescript' ? typescript6 : resolve.call(this, request, ...rest);
};
