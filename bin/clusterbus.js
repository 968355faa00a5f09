#!/usr/bin/env node
// The `clusterbus` command, over the build in dist/ (npm run build writes it). `status`, `ls`,
// `reload` and the help are the run time's, which never loads the code generator; every other
// command (`gen`) belongs to the generator, the separate development package clusterbus-gen.
import { handles, main } from '../dist/src/cli/main.js';

const argv = process.argv.slice(2);
if (handles(argv)) {
  process.exitCode = await main(argv);
} else {
  let generator;
  try {
    generator = await import('clusterbus-gen');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes("'clusterbus-gen'")) throw err;
    process.stderr.write(
      `clusterbus: '${argv[0]}' is a command of the code generator, which is not installed here.\n` +
        'Install it as a development dependency:  npm install --save-dev clusterbus-gen\n' +
        '(clusterbus --help lists the commands of the run time)\n',
    );
    process.exit(2);
  }
  process.exitCode = await generator.main(argv);
}
