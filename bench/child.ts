import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Child<T> {
  readonly info: T;
  readonly process: ChildProcess;
  /** SIGTERM, then wait for the exit (the child stops cleanly and writes any --cpu-prof profile). */
  stop(): Promise<void>;
  /** Writes a command line on the child's stdin; resolves with the next JSON line it prints. */
  ask<R>(command: string): Promise<R>;
  /** Writes a command line on the child's stdin, expecting no answer. */
  tell(command: string): void;
}

/** Node flags for every benchmark child, e.g. BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=bench/results/prof". */
const extraFlags = (): string[] =>
  (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0);

/**
 * Runs `bench/<script>` under tsx in its own Node process (so the load generator never shares the
 * server's event loop) and resolves with the JSON it prints as its first stdout line.
 */
export async function spawnChild<T>(script: string, env: Record<string, string> = {}): Promise<Child<T>> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [...extraFlags(), '--import', 'tsx', file], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${script} printed something other than JSON: ${line}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready`));
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    info,
    process: child,
    tell(command) {
      child.stdin?.write(`${command}\n`);
    },
    ask<R>(command: string) {
      const answer = new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => {
          lines.off('line', onLine);
          reject(new Error(`${script} did not answer ${command} within 5 s`));
        }, 5_000);
        const onLine = (line: string) => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(line) as R);
          } catch {
            reject(new Error(`${script} answered ${command} with something other than JSON: ${line}`));
          }
        };
        lines.once('line', onLine);
      });
      child.stdin?.write(`${command}\n`);
      return answer;
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(kill);
        lines.close();
      })();
      return stopped;
    },
  };
}
