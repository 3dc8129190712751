import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json (the one place it is written). The path is the
 * same from src/ (tsx) and from dist/ (the build): package.json sits one level up from both.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
