/**
 * Summarizes V8 .cpuprofile files (from BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=…"): where the
 * server's CPU time goes, by module (package / src folder / node internals) and by function, self
 * and inclusive. Usage: tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A module bucket: an npm package, a src/ folder, node's internals, or V8's own entries. */
function bucketOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1] as string;
  const src = url.match(/\/src\/([^/]+)\//);
  if (src) return `src/${src[1]}`;
  if (url.includes('/bench/')) return 'bench';
  if (url.startsWith('node:')) {
    const internal = url.match(/^node:internal\/([^/]+)/);
    return `node:${internal ? internal[1] : url.slice(5)}`;
  }
  return url;
}

const short = (url: string): string =>
  url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
    .replace(/^node:internal\//, 'node:');

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfFn = new Map<string, number>();
  const inclFn = new Map<string, number>();
  const selfBucket = new Map<string, number>();
  const inclBucket = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const add = (map: Map<string, number>, key: string, dt: number) => map.set(key, (map.get(key) ?? 0) + dt);

  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(id);
    if (leaf === undefined) return;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    total += dt;
    const { functionName, url, lineNumber } = leaf.callFrame;
    add(selfFn, `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`, dt);
    add(selfBucket, bucketOf(url, functionName), dt);
    const seenFn = new Set<string>();
    const seenBucket = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n !== undefined; n = byId.get(parent.get(n.id) ?? -1)) {
      const f = n.callFrame;
      if (f.functionName === '(root)') break;
      const key = `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}`;
      if (!seenFn.has(key)) {
        seenFn.add(key);
        add(inclFn, key, dt);
      }
      const bucket = bucketOf(f.url, f.functionName);
      if (!seenBucket.has(bucket)) {
        seenBucket.add(bucket);
        add(inclBucket, bucket, dt);
      }
    }
  });

  const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)}%`;
  const list = (title: string, map: Map<string, number>, n: number) => {
    console.log(`\n${title}`);
    for (const [key, ms] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n))
      console.log(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${key}`);
  };
  console.log(`${file}\n  busy ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms`);
  list('self time by module', selfBucket, 20);
  list('inclusive time by module (on the stack)', inclBucket, 20);
  list('self time by function', selfFn, top);
  list('inclusive time by function', inclFn, top);
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
summarize(file, Number(topArg) || 25);
