import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { runCli } from './helpers/cli.js';
import { TEST_DIALECT } from './helpers/database.js';
import { startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/** A raw HTTP request with exactly the headers given (fetch would not let us forge Host). */
function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers ?? {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('operations', () => {
  let server: TestServer;
  let port: string;

  beforeAll(async () => {
    server = await startTestServer();
    port = new URL(server.url).port;
  });
  afterAll(async () => server.cleanup());

  describe('GET /health', () => {
    it('answers status ok with the database reachable, without auth', async () => {
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 'ok', database: { reachable: true, dialect: TEST_DIALECT } });
    });

    it('reveals no keys or data', async () => {
      const text = await (await fetch(`${server.url}/health`)).text();
      expect(text).not.toContain(server.apiKey);
      expect(text).not.toContain(server.adminKey);
    });
  });

  describe('Host and Origin checks (DNS rebinding)', () => {
    it('refuses a request whose Host is not this server with 403', async () => {
      const res = await rawRequest(server.url, { path: '/health', headers: { host: 'evil.example.com' } });
      expect(res.status).toBe(403);
      const withPort = await rawRequest(server.url, {
        path: '/health',
        headers: { host: `evil.example.com:${port}` },
      });
      expect(withPort.status).toBe(403);
    });

    it('refuses a tool call with a foreign Host before it runs', async () => {
      const token = await tokenFor(server, 'ops-agent');
      const res = await rawRequest(server.url, {
        method: 'POST',
        path: '/mcp/tool/create_session',
        headers: {
          host: 'evil.example.com',
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ purpose: 'rebinding attack' }),
      });
      expect(res.status).toBe(403);
      const list = await fetch(`${server.url}/mcp/tool/list_sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{}',
      });
      const sessions = ((await list.json()) as { sessions: Array<{ purpose: string }> }).sessions;
      expect(sessions.map((s) => s.purpose)).not.toContain('rebinding attack');
    });

    it('refuses a request from a foreign Origin with 403', async () => {
      const res = await rawRequest(server.url, {
        path: '/health',
        headers: { host: `127.0.0.1:${port}`, origin: 'http://evil.example.com' },
      });
      expect(res.status).toBe(403);
      const mcp = await rawRequest(server.url, {
        method: 'POST',
        path: '/mcp',
        headers: {
          host: `localhost:${port}`,
          origin: 'http://evil.example.com',
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(mcp.status).toBe(403);
    });

    it('allows the localhost Host and Origin of this server', async () => {
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
        const res = await rawRequest(server.url, {
          path: '/health',
          headers: { host, origin: `http://localhost:${port}` },
        });
        expect(res.status, host).toBe(200);
      }
    });
  });

  describe('configuration', () => {
    it('rejects a non-numeric HTTP_PORT with a ConfigError of one line naming it', () => {
      let caught: unknown;
      try {
        loadConfig({ HTTP_PORT: 'abc' });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const message = (caught as Error).message;
      expect(message).toContain('HTTP_PORT');
      expect(message).not.toContain('\n');
    });

    const badValues: Array<[string, string]> = [
      ['HTTP_PORT', '70000'],
      ['LOG_LEVEL', 'chatty'],
      ['JWT_TOKEN_EXPIRY', 'soon'],
      ['API_KEY', 'short'],
      ['MAX_CONTENT_LENGTH', '0'],
      ['RATE_LIMIT_BURST', '-1'],
    ];
    for (const [name, value] of badValues) {
      it(`rejects ${name}=${value} with one line naming ${name}`, () => {
        expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
        expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}\\b[^\\n]*$`));
      });
    }

    it('accepts an empty environment with the documented defaults', () => {
      const config = loadConfig({});
      expect(config).toMatchObject({ host: '127.0.0.1', port: 23456, tokenExpirySeconds: 86400 });
      expect(config.database).toMatchObject({ kind: 'sqlite' });
    });
  });

  describe('command line', () => {
    let dataDir: string;
    beforeAll(() => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'scs-cli-'));
    });
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it('prints usage with --help and exits 0', async () => {
      const { code, stdout } = await runCli(['--help'], { DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect(stdout).toMatch(/usage/i);
      for (const command of ['serve', 'stdio', 'keys', 'client-config', 'status', 'migrate']) {
        expect(stdout).toContain(command);
      }
    });

    it('prints help for a subcommand with --help', async () => {
      const { code, stdout } = await runCli(['stdio', '--help'], { DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect(stdout).toContain('stdio');
      expect(stdout).toContain('SCS_AGENT_ID');
    });

    it('exits 1 with one clear line on stderr for HTTP_PORT=abc', async () => {
      const { code, stderr, stdout } = await runCli(['serve'], {
        DATA_DIR: dataDir,
        HTTP_PORT: 'abc',
        LOG_LEVEL: 'silent',
      });
      expect(code).toBe(1);
      const lines = stderr.split('\n').filter((line) => line.trim().length > 0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('HTTP_PORT');
      expect(stdout).not.toContain('serving');
    });
  });
});
