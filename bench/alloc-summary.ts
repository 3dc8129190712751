/**
 * Summarises a sampling heap profile (bench/serve-for-bench.ts BENCH_ALLOC_PROFILE): bytes allocated
 * by function (self) and by module, largest first. Usage: tsx bench/alloc-summary.ts <file> [top=30]
 */
import { readFileSync } from 'node:fs';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: tsx bench/alloc-summary.ts <file.heapprofile> [top]');
const top = Number(topArg ?? 30);
const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: Node };
const moduleOf = (url: string): string => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const src = /\/(src\/[^/]+\/?[^/]*)\//.exec(url);
  if (src) return src[1]!;
  return url.startsWith('node:')
    ? url.split('/')[0]!
    : url === ''
      ? '(native)'
      : url.replace(/^.*\/work\/[^/]+\//, '');
};
const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
let total = 0;
const walk = (node: Node): void => {
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/work\/[^/]+\//, '')}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
  const mod = moduleOf(url);
  byModule.set(mod, (byModule.get(mod) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const child of node.children) walk(child);
};
walk(head);
const print = (title: string, map: Map<string, number>) => {
  console.log(title);
  for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `${((100 * bytes) / total).toFixed(1).padStart(6)}%  ${(bytes / 1e6).toFixed(1).padStart(8)} MB  ${key}`,
    );
};
console.log(`sampled allocation: ${(total / 1e6).toFixed(1)} MB`);
print('\nby module', byModule);
print('\nby function (self)', byFunction);
