#!/usr/bin/env node
// `clusterbus-gen …` is `clusterbus gen …`, for projects that call the generator directly.
import { main } from '../dist/codegen/cli.js';

const argv = process.argv.slice(2);
process.exitCode = await main(
  argv[0] === 'gen' || argv[0] === undefined ? ['gen', ...argv.slice(1)] : ['gen', ...argv],
);
