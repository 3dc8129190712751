import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writePrivateFile } from '../core/private-files.js';

/** What a serving process writes to `DATA_DIR/server.json`, so the CLI can find it. */
export interface RuntimeInfo {
  readonly pid: number;
  readonly url: string;
  readonly started_at: string;
  /** Where its API key came from: a CLI without that environment cannot know an environment key. */
  readonly api_key_source: 'environment' | 'keys.json';
}

export const runtimeFilePath = (dataDir: string): string => path.join(dataDir, 'server.json');

/**
 * Records that this process serves `url` for `dataDir` (mode 0600). The returned `remove` deletes
 * the file only if it still describes this server: a second server on the same data directory
 * may have replaced it since.
 */
export function writeRuntimeFile(
  dataDir: string,
  url: string,
  apiKeySource: RuntimeInfo['api_key_source'],
): { remove(): void } {
  const file = runtimeFilePath(dataDir);
  const info: RuntimeInfo = {
    pid: process.pid,
    url,
    started_at: new Date().toISOString(),
    api_key_source: apiKeySource,
  };
  writePrivateFile(file, `${JSON.stringify(info, null, 2)}\n`);
  return {
    remove() {
      const current = readRuntimeFile(file);
      if (current?.pid === info.pid && current.url === info.url) rmSync(file, { force: true });
    },
  };
}

/**
 * The server serving this data directory, if its runtime file names a live process; undefined when
 * there is no file, it is unreadable, or its process is gone (killed without removing it).
 */
export function findRunningServer(dataDir: string): RuntimeInfo | undefined {
  const info = readRuntimeFile(runtimeFilePath(dataDir));
  return info !== undefined && isAlive(info.pid) ? info : undefined;
}

function readRuntimeFile(file: string): RuntimeInfo | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RuntimeInfo>;
    if (typeof parsed.pid !== 'number' || typeof parsed.url !== 'string') return undefined;
    return {
      pid: parsed.pid,
      url: parsed.url,
      started_at: String(parsed.started_at ?? ''),
      api_key_source: parsed.api_key_source === 'environment' ? 'environment' : 'keys.json',
    };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
