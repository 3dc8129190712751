import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from './helpers/mcp-client.js';
import { ROOT, startCliServer } from './helpers/cli.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';
import { TestSocket, type RefusedUpgrade } from './helpers/ws-client.js';

const mode = (file: string): number => statSync(file).mode & 0o777;

/** Each entry of the data directory with its mode, e.g. {"shared-context.db": 0o600, …}. */
function modesIn(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, mode(path.join(dir, name))]));
}

const envKeys = () => ({
  API_KEY: `env_api_${randomBytes(12).toString('hex')}`,
  ADMIN_API_KEY: `env_admin_${randomBytes(12).toString('hex')}`,
  JWT_SECRET_KEY: `env_jwt_${randomBytes(24).toString('hex')}`,
});

/** Writes through the server so the WAL and shared-memory files exist. */
async function writeSomething(server: TestServer): Promise<void> {
  const token = await tokenFor(server, 'file-writer');
  const { status } = await callHttpTool(
    server.url,
    'create_session',
    { purpose: 'touch the database' },
    { authorization: `Bearer ${token}` },
  );
  expect(status).toBe(200);
}

describe('private files', () => {
  const dirs: string[] = [];
  const servers: TestServer[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'scs-files-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('with keys from the environment, makes the data dir 0700 and the database, -wal, -shm and server.json 0600', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const server = await startTestServer(envKeys(), dataDir);
    servers.push(server);
    await writeSomething(server);
    expect(mode(dataDir)).toBe(0o700);
    const modes = modesIn(dataDir);
    expect(Object.keys(modes)).toEqual(
      expect.arrayContaining([
        'shared-context.db',
        'shared-context.db-wal',
        'shared-context.db-shm',
        'server.json',
      ]),
    );
    expect(modes).not.toHaveProperty('keys.json');
    for (const [name, fileMode] of Object.entries(modes)) expect(fileMode, name).toBe(0o600);
  });

  it('on the zero-config path, makes the data dir 0700 and every file in it, keys.json included, 0600', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const server = await startTestServer({}, dataDir);
    servers.push(server);
    await writeSomething(server);
    expect(mode(dataDir)).toBe(0o700);
    const modes = modesIn(dataDir);
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(['keys.json', 'shared-context.db-wal']));
    for (const [name, fileMode] of Object.entries(modes)) expect(fileMode, name).toBe(0o600);
  });

  it('narrows a data dir and files left readable by everyone back to 0700 and 0600 on restart', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const first = await startTestServer({}, dataDir);
    await writeSomething(first);
    // What an older version (or another umask) left behind: everything readable by every user.
    await first.stop();
    chmodSync(dataDir, 0o755);
    for (const name of readdirSync(dataDir)) chmodSync(path.join(dataDir, name), 0o644);
    expect(mode(path.join(dataDir, 'keys.json'))).toBe(0o644);

    const second = await startTestServer({}, dataDir);
    servers.push(second);
    await writeSomething(second);
    expect(mode(dataDir)).toBe(0o700);
    const modes = modesIn(dataDir);
    expect(Object.keys(modes)).toEqual(
      expect.arrayContaining([
        'keys.json',
        'shared-context.db',
        'shared-context.db-wal',
        'shared-context.db-shm',
      ]),
    );
    for (const [name, fileMode] of Object.entries(modes)) expect(fileMode, name).toBe(0o600);
  });

  it('keeps a DATABASE_URL file outside DATA_DIR 0600, in a 0700 directory it created, without narrowing a directory it did not', async () => {
    const root = tempDir();
    const created = path.join(root, 'new', 'db');
    const server = await startTestServer(
      { ...envKeys(), DATABASE_URL: `sqlite:${path.join(created, 'outside.db')}` },
      path.join(root, 'data'),
    );
    servers.push(server);
    await writeSomething(server);
    expect(mode(created)).toBe(0o700);
    for (const [name, fileMode] of Object.entries(modesIn(created))) expect(fileMode, name).toBe(0o600);
    await server.stop();

    const shared = path.join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    const again = await startTestServer(
      { ...envKeys(), DATABASE_URL: `sqlite:${path.join(shared, 'outside.db')}` },
      path.join(root, 'data'),
    );
    servers.push(again);
    await writeSomething(again);
    expect(mode(shared)).toBe(0o755);
    const modes = modesIn(shared);
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(['outside.db', 'outside.db-wal']));
    for (const [name, fileMode] of Object.entries(modes)) expect(fileMode, name).toBe(0o600);
  });

  it('writes DATA_DIR/server.json {pid, url, started_at} while serving and removes it on stop', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const server = await startTestServer({}, dataDir);
    const file = path.join(dataDir, 'server.json');
    const info = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ pid: process.pid, url: server.url, started_at: expect.any(String) });
    expect(mode(file)).toBe(0o600);
    await server.stop();
    expect(existsSync(file)).toBe(false);
  });
});

/** Runs `code` (an ES module) in a child process with tsx and returns what it wrote to stderr. */
function stderrOf(code: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(stderr));
  });
}

describe('the logger', () => {
  it('redacts credentials by field name, and known keys, JWTs and token= query values anywhere in a line', async () => {
    const stderr = await stderrOf(`
      const { createLogger, redactInLogs } = await import('./src/logger.ts');
      const log = createLogger('trace');
      redactInLogs(['known_secret_0123456789']);
      log.info({
        headers: { authorization: 'Bearer header_token_1', 'x-api-key': 'header_key_2' },
        req: { headers: { authorization: 'Bearer req_token_3', 'x-api-key': 'req_key_4' } },
        url: '/ws/agent?after_id=3&token=query_token_5',
        args: { api_key: 'arg_key_6', auth_token: 'arg_token_7' },
        params: { arguments: { api_key: 'rpc_key_8', auth_token: 'rpc_token_9' } },
        credentials: { apiKey: 'cred_key_10' },
      }, 'request');
      log.error({ err: new Error('failed near known_secret_0123456789 with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl') }, 'boom');
      log.flush();
    `);
    expect(stderr).toContain('"msg":"request"');
    expect(stderr).toContain('"msg":"boom"');
    expect(stderr).toContain('after_id=3');
    for (const secret of [
      'header_token_1',
      'header_key_2',
      'req_token_3',
      'req_key_4',
      'query_token_5',
      'arg_key_6',
      'arg_token_7',
      'rpc_key_8',
      'rpc_token_9',
      'cred_key_10',
      'known_secret_0123456789',
      'eyJzdWIiOiJ4In0',
    ]) {
      expect(stderr).not.toContain(secret);
    }
  });
});

describe('no secret in the banner or the logs (the real CLI, keys from the environment)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'scs-secrets-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints no key in the startup banner, only how to show it', async () => {
    const keys = envKeys();
    const server = await startCliServer({
      ...keys,
      DATA_DIR: path.join(dataDir, 'banner'),
      LOG_LEVEL: 'info',
    });
    const banner = server.stdout();
    await server.stop();
    expect(banner).toContain('claude mcp add');
    expect(banner).toContain('keys show');
    for (const secret of Object.values(keys)) expect(banner).not.toContain(secret);
    expect(server.stderr()).not.toContain(keys.API_KEY);
  });

  it('prints no generated key in the banner of a zero-config start', async () => {
    const dir = path.join(dataDir, 'zero');
    const server = await startCliServer({ DATA_DIR: dir, LOG_LEVEL: 'info' });
    const banner = server.stdout();
    await server.stop();
    const stored = JSON.parse(readFileSync(path.join(dir, 'keys.json'), 'utf8')) as Record<string, string>;
    expect(banner).toContain('keys show --api-key');
    for (const secret of Object.values(stored)) expect(banner + server.stderr()).not.toContain(secret);
  });

  it('writes no key, secret or token to stdout or stderr at LOG_LEVEL=trace, whatever clients send', async () => {
    const keys = envKeys();
    const server = await startCliServer({
      ...keys,
      DATA_DIR: path.join(dataDir, 'scan'),
      LOG_LEVEL: 'trace',
    });
    const secrets: string[] = [...Object.values(keys)];
    const wrongKey = `wrong_key_${randomBytes(12).toString('hex')}`;
    const garbageToken = `not_a_token_${randomBytes(12).toString('hex')}`;
    const forgedJwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmb3JnZWQifQ.${randomBytes(16).toString('base64url')}`;
    secrets.push(wrongKey, garbageToken, forgedJwt);
    const post = (name: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/mcp/tool/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

    try {
      // authenticate, with the right key and a wrong one
      const issued = await post('authenticate_agent', { agent_id: 'scanner', api_key: keys.API_KEY });
      expect(issued.status).toBe(200);
      const token = issued.body.token as string;
      secrets.push(token);
      expect((await post('authenticate_agent', { agent_id: 'scanner', api_key: wrongKey })).status).toBe(401);
      const admin = await post('authenticate_agent', {
        agent_id: 'scan-admin',
        api_key: keys.ADMIN_API_KEY,
        requested_permissions: ['read', 'write', 'admin'],
      });
      secrets.push(admin.body.token as string);
      // bad tokens, in the header and as auth_token
      for (const bad of [garbageToken, forgedJwt]) {
        expect((await post('list_sessions', {}, { authorization: `Bearer ${bad}` })).status).toBe(401);
        expect((await post('list_sessions', { auth_token: bad })).status).toBe(401);
      }
      // tool calls with auth_token, a refresh (a new token in the reply) and malformed JSON holding a key
      const created = await post('create_session', { purpose: 'log scan', auth_token: token });
      expect(created.status).toBe(200);
      const refreshed = await post('refresh_token', { auth_token: token });
      const fresh = refreshed.body.token as string;
      secrets.push(fresh);
      expect((await post('authenticate_agent', `{"api_key":"${keys.API_KEY}", oops`)).status).toBe(400);
      // REST with the key headers
      const rest = await fetch(`${server.url}/api/v1/agents/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': keys.API_KEY, 'x-agent-id': 'scanner' },
        body: JSON.stringify({ agent_id: 'scanner', agent_type: 'generic' }),
      });
      expect(rest.status).toBe(200);
      // WebSocket with ?token=, good and bad
      const socket = await TestSocket.open(server.url, 'scanner', { query: { token: fresh } });
      socket.send({ type: 'heartbeat' });
      await socket.next('heartbeat_ack', 5000).catch(() => undefined);
      await socket.close();
      const refused = await TestSocket.open(server.url, 'scanner', { query: { token: forgedJwt } }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (error: RefusedUpgrade) => error,
      );
      expect(refused?.status).toBe(401);
      // MCP with X-API-Key, and with a wrong key
      const mcp = await connectMcp(server.url, { 'X-API-Key': keys.API_KEY, 'X-Agent-Id': 'scanner' });
      try {
        expect((await callTool(mcp, 'list_sessions', {})).isError).toBe(false);
        expect((await callTool(mcp, 'get_session', { session_id: created.body.session_id })).isError).toBe(
          false,
        );
        expect((await callTool(mcp, 'list_sessions', { auth_token: forgedJwt })).isError).toBe(true);
      } finally {
        await mcp.close();
      }
      // A wrong key is refused at initialize or at the call, depending on the session binding.
      const refusedCall = await connectMcp(server.url, {
        'X-API-Key': wrongKey,
        'X-Agent-Id': 'scanner',
      }).then(
        async (wrongMcp) => {
          try {
            return (await callTool(wrongMcp, 'list_sessions', {})).isError;
          } finally {
            await wrongMcp.close();
          }
        },
        () => true,
      );
      expect(refusedCall).toBe(true);
      expect(
        (await post('revoke_token', { token: fresh }, { authorization: `Bearer ${fresh}` })).status,
      ).toBe(200);
    } finally {
      await server.stop();
    }
    const output = `${server.stdout()}\n${server.stderr()}`;
    // The scan means something only if the server did log at trace level.
    expect(server.stderr()).toContain('"level":');
    expect(server.stderr()).toContain('shared-context-server listening');
    for (const secret of secrets)
      expect(output, `output contains ${secret.slice(0, 12)}…`).not.toContain(secret);
  });
});
