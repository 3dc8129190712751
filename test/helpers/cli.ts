import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testDatabaseUrl } from './database.js';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (through tsx) with exactly `env` (plus PATH) and collects its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  // On PostgreSQL the CLI works on the same schema as the test server of that data directory.
  const databaseUrl =
    env.DATA_DIR !== undefined && env.DATABASE_URL === undefined
      ? await testDatabaseUrl(env.DATA_DIR)
      : undefined;
  return runCliWith(args, databaseUrl === undefined ? env : { ...env, DATABASE_URL: databaseUrl });
}

function runCliWith(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `serve` process of the real CLI, started and read until its banner says where it listens. */
export interface CliServer {
  readonly url: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

export function startCliServer(env: Record<string, string>): Promise<CliServer> {
  const child = spawn(process.execPath, [...CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HTTP_PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its banner:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /is serving on (http:\/\/\S+)/.exec(stdout)?.[1];
      // The banner's last line names the other clients: wait for all of it.
      if (url === undefined || !stdout.includes('other clients')) return;
      clearTimeout(timer);
      resolve({
        url,
        child,
        stdout: () => stdout,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode !== null) return child.exitCode;
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
          const code = await exited;
          clearTimeout(kill);
          return code;
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** An MCP client connected to a real `stdio` child process on `dataDir`; `stderr()` is what it wrote there. */
export async function connectStdio(
  dataDir: string,
  agentId: string,
  env: Record<string, string> = {},
): Promise<{ client: Client; stderr: () => string }> {
  let stderr = '';
  const databaseUrl = await testDatabaseUrl(dataDir);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli/main.ts', 'stdio'],
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      SCS_AGENT_ID: agentId,
      LOG_LEVEL: 'silent',
      ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
      ...env,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: `scs-test-${agentId}`, version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}
