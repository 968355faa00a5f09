#!/usr/bin/env node
// The `clusterbus` command: runs the compiled generator CLI (npm run build writes dist/).
import { main } from '../dist/codegen/cli.js';

process.exitCode = await main(process.argv.slice(2));
