/**
 * Turns on Node's on-disk compile cache (`module.enableCompileCache`, Node 22.1 and later)
 * before the generator loads ts-morph, whose bundled TypeScript is 9 MB of JavaScript that V8
 * would otherwise compile again on every run. cli.ts imports this module first so that it runs
 * before the modules that load TypeScript. Older Node has no such cache and runs as before.
 */
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
