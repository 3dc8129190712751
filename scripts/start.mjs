#!/usr/bin/env node
/**
 * `npm start` without a TypeScript loader in the server process: transpiles src/ into dist/ with
 * esbuild (the transform tsx applies per file, for every file at once: well under a second, no type
 * check — `npm run typecheck` does that), then runs the command line from dist/ in this process.
 *
 * Under tsx the server process also held tsx's module-loading thread (a second V8 instance) and the
 * transpiled sources: 140–160 MB idle instead of under 80 (docs/memory.md). dist/ is what
 * `npm run build` writes too (same layout; tsc's output has source maps besides).
 *
 *   node scripts/start.mjs [command] [options]     (default command: serve)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// In a child process, so that esbuild's JavaScript API is not loaded into the server's.
const build = spawnSync(
  process.execPath,
  [
    '-e',
    `require('esbuild').buildSync({
      entryPoints: ['src/**/*.ts'],
      outdir: 'dist',
      outbase: 'src',
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
    })`,
  ],
  { cwd: root, stdio: 'inherit' },
);
if (build.status !== 0) {
  process.stderr.write('shared-context-server: could not transpile src/ (see above)\n');
  process.exit(build.status ?? 1);
}

await import(new URL('../dist/cli/main.js', import.meta.url).href);
