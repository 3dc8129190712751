#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { tuneV8ForServer } from './v8-tuning.js';

/*
 * The command line's entry. It imports the commands only after the V8 setting below: loading the
 * code of a start (a few hundred modules) and opening the store look to V8 like a burst of
 * long-lived allocation, to which it answers by growing the young generation to its maximum (two
 * 16 MB semi-spaces) — memory an idle server then keeps committed (about 14 MB of 90). Growth is off
 * while the command starts and back to V8's default factor (2) once it runs, so the young
 * generation still grows under load. A --semi-space-growth-factor given to node is left alone.
 * See docs/memory.md.
 */
const GROWTH_FLAG = '--semi-space-growth-factor';
const nodeArgs = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const tuneGrowth = !nodeArgs.some((arg) => arg.startsWith(GROWTH_FLAG));
if (tuneGrowth) setFlagsFromString(`${GROWTH_FLAG}=1`);
tuneV8ForServer();

// Whatever this process creates (database, keys, runtime file) is private even before the code
// that creates it narrows the mode; each of those places sets 0600/0700 itself all the same.
process.umask(0o077);

const { runCli } = await import('./commands.js');
await runCli(process.argv.slice(2), () => {
  if (tuneGrowth) setFlagsFromString(`${GROWTH_FLAG}=2`);
});
