import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU accounting around a measured window (Linux /proc; elsewhere it reports nothing): the server
 * child's CPU per request is a steadier figure than req/s on a shared 2-core machine, and "other"
 * (busy time of neither the server nor this load generator) flags runs disturbed by other work.
 */

let tickMs: number | undefined;
function msPerTick(): number {
  if (tickMs === undefined) {
    let hz = 100;
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // keep the usual 100
    }
    tickMs = 1000 / hz;
  }
  return tickMs;
}

interface CpuSample {
  at: number;
  serverMs: number;
  selfMs: number;
  busyMs: number;
}

export interface CpuUsage {
  /** Server child CPU, in % of one core. */
  serverCorePct: number;
  /** Server child CPU time per successful request, µs. */
  serverUsPerRequest: number;
  /** This process (the load generator), % of one core. */
  generatorCorePct: number;
  /** Everything else busy on the machine, % of one core. */
  otherCorePct: number;
}

function processMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * msPerTick();
}

function busyMs(): number {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const n = ticks.map(Number);
  // user nice system idle iowait irq softirq steal
  return ((n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0) + (n[7] ?? 0)) * msPerTick();
}

export function sampleCpu(serverPid: number | undefined): CpuSample | undefined {
  if (serverPid === undefined || process.platform !== 'linux') return undefined;
  try {
    const self = process.cpuUsage();
    return {
      at: performance.now(),
      serverMs: processMs(serverPid),
      selfMs: (self.user + self.system) / 1000,
      busyMs: busyMs(),
    };
  } catch {
    return undefined;
  }
}

export function cpuBetween(
  a: CpuSample | undefined,
  b: CpuSample | undefined,
  requests: number,
): CpuUsage | undefined {
  if (a === undefined || b === undefined) return undefined;
  const wall = b.at - a.at;
  const server = b.serverMs - a.serverMs;
  const self = b.selfMs - a.selfMs;
  const other = Math.max(0, b.busyMs - a.busyMs - server - self);
  const pct = (ms: number) => Math.round((ms / wall) * 1000) / 10;
  return {
    serverCorePct: pct(server),
    serverUsPerRequest: requests > 0 ? Math.round((server * 1000) / requests) : Number.NaN,
    generatorCorePct: pct(self),
    otherCorePct: pct(other),
  };
}

/** Busy CPU of the whole machine over `ms`, in % of one core, while this benchmark is idle. */
export async function backgroundLoad(ms = 1000): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const a = busyMs();
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return Math.round(((busyMs() - a) / (performance.now() - t)) * 1000) / 10;
  } catch {
    return undefined;
  }
}

/** Waits (up to `maxWaitMs`) for the machine's busy CPU to fall under `pct` % of a core; returns the last reading. */
export async function waitForQuiet(pct: number, maxWaitMs: number): Promise<number | undefined> {
  const deadline = performance.now() + maxWaitMs;
  let load = await backgroundLoad(500);
  while (load !== undefined && load > pct && performance.now() < deadline) load = await backgroundLoad(500);
  return load;
}

/**
 * Waits (up to `maxWaitMs`) until process `pid` uses under `pct` % of a core over half a second
 * (e.g. a server finishing its background work); resolves with how long it waited, in ms.
 */
export async function waitForIdleProcess(
  pid: number | undefined,
  pct: number,
  maxWaitMs: number,
): Promise<number> {
  const started = performance.now();
  if (pid === undefined || process.platform !== 'linux') return 0;
  for (;;) {
    const a = processMs(pid);
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const used = ((processMs(pid) - a) / (performance.now() - t)) * 100;
    if (used < pct || performance.now() - started > maxWaitMs) return Math.round(performance.now() - started);
  }
}
