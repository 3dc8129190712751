import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type RunningApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';
import { dropTestDatabase, testDatabaseUrl } from './database.js';

export interface TestServer {
  readonly app: RunningApp;
  readonly url: string;
  readonly dataDir: string;
  readonly apiKey: string;
  readonly adminKey: string;
  /** Stops the server; the data directory stays (for restart tests) until `cleanup`. */
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A real server on a random loopback port with its own temp SQLite file. */
export async function startTestServer(
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'scs-test-'));
  const databaseUrl = env.DATABASE_URL === undefined ? await testDatabaseUrl(dir) : undefined;
  const config = loadConfig({
    ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
    HTTP_PORT: '0',
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    ...env,
  });
  const app = await startApp(config, createLogger(config.logLevel));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.stop();
  };
  return {
    app,
    url: app.url,
    dataDir: dir,
    apiKey: app.services.secrets.apiKey,
    adminKey: app.services.secrets.adminApiKey,
    stop,
    async cleanup() {
      await stop();
      await dropTestDatabase(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POST /mcp/tool/{name}; returns status and parsed body. */
export async function callHttpTool(
  url: string,
  name: string,
  args: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/mcp/tool/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof args === 'string' ? args : JSON.stringify(args),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A token for an agent, via the HTTP tool route. */
export async function tokenFor(
  server: TestServer,
  agentId: string,
  options: { agentType?: string; admin?: boolean } = {},
): Promise<string> {
  const { body } = await callHttpTool(server.url, 'authenticate_agent', {
    agent_id: agentId,
    agent_type: options.agentType ?? 'generic',
    api_key: options.admin ? server.adminKey : server.apiKey,
    requested_permissions: options.admin ? ['read', 'write', 'admin'] : ['read', 'write'],
  });
  if (body.success !== true) throw new Error(`authenticate_agent failed: ${JSON.stringify(body)}`);
  return body.token as string;
}
