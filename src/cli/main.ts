#!/usr/bin/env node
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv } from '../config/config.js';
import { createLogger } from '../logger.js';
import { startApp } from '../app/app.js';
import { createServices } from '../app/services.js';
import { resolveSecrets, rotateKeysFile } from '../auth/secrets.js';
import { openStore } from '../store/open-store.js';
import { serveMcpStdio } from '../transports/mcp/mcp-stdio.js';
import { CLIENTS, type ClientName, clientConfig } from './client-config.js';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const HELP: Record<string, string> = {
  main: `shared-context-server (alias scs) — shared blackboard, memory and search for AI agents

Usage: shared-context-server [command] [options]

Commands:
  serve                  Serve HTTP (MCP at /mcp, tools at /mcp/tool/{name}) — the default
  stdio                  Serve MCP over stdin/stdout (identity: SCS_AGENT_ID, SCS_AGENT_TYPE, SCS_API_KEY)
  keys [show|rotate|token <agent_id>]
                         Show the keys, rotate generated keys, or issue a token for an agent
  client-config <client> Print the snippet that connects a client (${CLIENTS.join(', ')})
  status                 Ask a running server for its health
  migrate                Apply database migrations and exit

Configuration comes from the environment or ./.env (see README). --help on any command.`,
  serve: 'shared-context-server serve — serve HTTP on HTTP_HOST:HTTP_PORT (default 127.0.0.1:23456).',
  stdio:
    'shared-context-server stdio — MCP over stdio. Env: SCS_AGENT_ID (who you are), SCS_AGENT_TYPE, SCS_API_KEY.',
  keys: 'shared-context-server keys [show|rotate|token <agent_id> [--admin]] — rotate only replaces generated keys (from DATA_DIR/keys.json).',
  'client-config': `shared-context-server client-config <${CLIENTS.join('|')}> [--agent-id ID] — print a config snippet.`,
  status: 'shared-context-server status — GET /health of the configured server and print it.',
  migrate:
    'shared-context-server migrate — apply pending migrations to DATABASE_URL (or the SQLite default) and exit.',
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      admin: { type: 'boolean' },
      'agent-id': { type: 'string' },
    },
  });
  const [command = 'serve', ...rest] = positionals;
  if (values.help) {
    console.log(HELP[positionals[0] ?? 'main'] ?? HELP.main);
    return 0;
  }
  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;

  switch (command) {
    case 'serve': {
      const app = await startApp(config, logger);
      const secrets = app.services.secrets;
      process.stdout.write(
        [
          '',
          `shared-context-server is serving on ${app.url}`,
          `  MCP (Streamable HTTP): ${app.url}/mcp    tools over HTTP: POST ${app.url}/mcp/tool/{name}`,
          `  data: ${config.database.kind === 'sqlite' ? config.database.file : 'PostgreSQL'}`,
          secrets.file
            ? `  keys: ${secrets.file}${secrets.generated ? ' (generated now, mode 0600)' : ''}`
            : '  keys: from the environment',
          '  connect Claude Code:',
          `    ${clientConfig('claude-code', { url: app.url, apiKey: secrets.apiKey, agentId: 'claude-code', repoDir: REPO_DIR, dataDir: config.dataDir })}`,
          '  other clients: npm run cli -- client-config <cursor|vscode|claude-desktop|windsurf|generic>',
          '',
        ].join('\n'),
      );
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        app.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      return -1;
    }
    case 'stdio': {
      const services = await createServices(config, logger);
      const handle = serveMcpStdio(services);
      const stop = async () => {
        await handle.close();
        await services.close();
        process.exit(0);
      };
      process.stdin.once('end', () => void stop());
      process.once('SIGTERM', () => void stop());
      return -1;
    }
    case 'keys': {
      const action = rest[0] ?? 'show';
      if (action === 'rotate') {
        rotateKeysFile(config.dataDir);
        console.log(
          `New keys written to ${path.join(config.dataDir, 'keys.json')}; tokens signed before now stop working.`,
        );
        return 0;
      }
      const secrets = resolveSecrets(config);
      if (action === 'show') {
        console.log(
          JSON.stringify(
            { api_key: secrets.apiKey, admin_api_key: secrets.adminApiKey, file: secrets.file ?? null },
            null,
            2,
          ),
        );
        return 0;
      }
      if (action === 'token') {
        const agentId = rest[1];
        if (agentId === undefined)
          throw new ConfigError('keys token: give the agent id, e.g. keys token my-agent');
        const services = await createServices(config, logger);
        const issued = await services.auth.authenticateAgent({
          agentId,
          agentType: 'generic',
          apiKey: values.admin ? secrets.adminApiKey : secrets.apiKey,
          requestedPermissions: values.admin ? ['read', 'write', 'admin'] : ['read', 'write'],
        });
        await services.close();
        console.log(JSON.stringify(issued, null, 2));
        return 0;
      }
      throw new ConfigError(`keys: unknown action "${action}" (show, rotate, token)`);
    }
    case 'client-config': {
      const client = rest[0] as ClientName | undefined;
      if (client === undefined || !CLIENTS.includes(client)) {
        throw new ConfigError(`client-config: name a client: ${CLIENTS.join(', ')}`);
      }
      const secrets = resolveSecrets(config);
      console.log(
        clientConfig(client, {
          url,
          apiKey: secrets.apiKey,
          agentId: values['agent-id'] ?? client,
          repoDir: REPO_DIR,
          dataDir: config.dataDir,
        }),
      );
      return 0;
    }
    case 'status': {
      try {
        const res = await fetch(`${url}/health`);
        console.log(JSON.stringify(await res.json(), null, 2));
        return res.ok ? 0 : 1;
      } catch {
        console.error(`No server answers at ${url} (start one with: npm start).`);
        return 1;
      }
    }
    case 'migrate': {
      const store = await openStore(config.database);
      await store.close();
      console.log('Migrations applied.');
      return 0;
    }
    default:
      throw new ConfigError(`unknown command "${command}" (see --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = error instanceof ConfigError ? 'configuration error' : 'error';
    process.stderr.write(`shared-context-server: ${prefix}: ${message}\n`);
    process.exit(1);
  },
);
