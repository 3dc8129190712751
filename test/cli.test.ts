import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool } from './helpers/mcp-client.js';
import { ROOT, runCli, startCliServer, type CliServer } from './helpers/cli.js';

const mode = (file: string): number => statSync(file).mode & 0o777;
const packageVersion = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

describe('command line', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'scs-cli-test-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints the package version with --version and -v', async () => {
    for (const flag of ['--version', '-v']) {
      const { code, stdout } = await runCli([flag], { DATA_DIR: path.join(root, 'version') });
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(packageVersion);
    }
  });

  describe('finding the running server (DATA_DIR/server.json)', () => {
    let server: CliServer;
    let dataDir: string;
    let port: string;

    beforeAll(async () => {
      dataDir = path.join(root, 'running');
      // HTTP_PORT=0: a port no configuration names; only the runtime file can tell it.
      server = await startCliServer({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      port = new URL(server.url).port;
    });
    afterAll(async () => server?.stop());

    it('status reports the health of the server on its actual port and says where it found it', async () => {
      const { code, stdout, stderr } = await runCli(['status'], { DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ status: 'ok' });
      expect(stderr).toContain(`127.0.0.1:${port}`);
      expect(stderr).toContain(`pid ${server.child.pid}`);
      expect(stderr).toContain('server.json');
    });

    it('client-config points every client at the actual port, with the key of the data directory', async () => {
      const keys = JSON.parse(readFileSync(path.join(dataDir, 'keys.json'), 'utf8')) as { api_key: string };
      const mcpUrl = `http://127.0.0.1:${port}/mcp`;
      for (const client of ['claude-code', 'vscode']) {
        const { code, stdout, stderr } = await runCli(['client-config', client], { DATA_DIR: dataDir });
        expect(code, client).toBe(0);
        expect(stdout, client).toContain(mcpUrl);
        expect(stdout, client).toContain(keys.api_key);
        expect(stderr, client).toContain('running');
      }
    });

    it('client-config prints Gemini CLI settings.json with httpUrl and headers', async () => {
      const { code, stdout } = await runCli(['client-config', 'gemini-cli', '--agent-id', 'gemini'], {
        DATA_DIR: dataDir,
      });
      expect(code).toBe(0);
      const settings = JSON.parse(stdout) as {
        mcpServers: Record<string, { httpUrl: string; headers: Record<string, string> }>;
      };
      const entry = settings.mcpServers['shared-context'];
      expect(entry?.httpUrl).toBe(`http://127.0.0.1:${port}/mcp`);
      expect(entry?.headers).toMatchObject({ 'X-API-Key': expect.any(String), 'X-Agent-Id': 'gemini' });
    });

    it('client-config prints a Codex config.toml table with url and http_headers', async () => {
      const { code, stdout } = await runCli(['client-config', 'codex'], { DATA_DIR: dataDir });
      expect(code).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toBe('[mcp_servers.shared-context]');
      expect(lines).toContain(`url = "http://127.0.0.1:${port}/mcp"`);
      expect(stdout).toMatch(/^http_headers = \{ "X-API-Key" = "scs_[\w-]+", "X-Agent-Id" = "codex" \}$/m);
    });

    it('falls back to HTTP_HOST/HTTP_PORT once the server has stopped, and says so', async () => {
      await server.stop();
      expect(existsSync(path.join(dataDir, 'server.json'))).toBe(false);
      const { code, stderr } = await runCli(['status'], { DATA_DIR: dataDir, HTTP_PORT: '9' });
      expect(code).toBe(1);
      expect(stderr).toContain('127.0.0.1:9');
      expect(stderr).toContain('HTTP_HOST/HTTP_PORT');
    });
  });

  it('client-config does not invent a key for a server that took API_KEY from its environment', async () => {
    const dataDir = path.join(root, 'env-keys');
    const server = await startCliServer({
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      API_KEY: 'env_api_key_0123456789abcdef',
      ADMIN_API_KEY: 'env_admin_key_0123456789abcdef',
      JWT_SECRET_KEY: 'env_jwt_secret_0123456789abcdef0123456789',
    });
    try {
      const { code, stdout, stderr } = await runCli(['client-config', 'cursor'], { DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect(stdout).toContain('${API_KEY}');
      expect(stderr).toContain('API_KEY');
      expect(existsSync(path.join(dataDir, 'keys.json'))).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it('keys show --api-key and --admin-key print one bare key each', async () => {
    const dataDir = path.join(root, 'keys');
    const api = await runCli(['keys', 'show', '--api-key'], { DATA_DIR: dataDir });
    const admin = await runCli(['keys', 'show', '--admin-key'], { DATA_DIR: dataDir });
    const stored = JSON.parse(readFileSync(path.join(dataDir, 'keys.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(api.stdout).toBe(`${stored.api_key}\n`);
    expect(admin.stdout).toBe(`${stored.admin_api_key}\n`);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(path.join(dataDir, 'keys.json'))).toBe(0o600);
  });

  it('migrate narrows an existing data dir to 0700 and creates the database 0600', async () => {
    const dataDir = path.join(root, 'migrate');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const { code } = await runCli(['migrate'], {
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      API_KEY: 'env_api_key_0123456789abcdef',
    });
    expect(code).toBe(0);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(path.join(dataDir, 'shared-context.db'))).toBe(0o600);
  });

  describe('stdio without SCS_AGENT_ID', () => {
    let client: Client;
    let stderr = '';

    beforeAll(async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', 'src/cli/main.ts', 'stdio'],
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', DATA_DIR: path.join(root, 'stdio'), LOG_LEVEL: 'silent' },
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      client = new Client({ name: 'scs-cli-test', version: '1.0.0' });
      await client.connect(transport);
    });
    afterAll(async () => client?.close());

    it('says on stderr, at start, to set SCS_AGENT_ID', () => {
      const lines = stderr.split('\n').filter((line) => line.includes('SCS_AGENT_ID'));
      expect(lines).toHaveLength(1);
    });

    it('answers a tool call that needs an identity with UNAUTHORIZED naming SCS_AGENT_ID', async () => {
      const { isError, json } = await callTool(client, 'create_session', { purpose: 'who am I?' });
      expect(isError).toBe(true);
      expect(json.code).toBe('UNAUTHORIZED');
      expect(json.error).toContain('SCS_AGENT_ID');
    });
  });
});
