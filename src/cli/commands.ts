import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig, loadDotEnv } from '../config/config.js';
import { ensurePrivateDir } from '../core/private-files.js';
import { type RuntimeInfo, findRunningServer, runtimeFilePath } from '../app/runtime-file.js';
import { VERSION } from '../version.js';
import { createLogger } from '../logger.js';
import { resolveSecrets, rotateKeysFile } from '../auth/secrets.js';
import { isAgentKeyAction, runAgentKeyCommand } from './agent-keys.command.js';
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
  keys issue --agent ID --type TYPE | keys revoke --agent ID | keys list [--all]
                         Issue, revoke or list agent keys (a key bound to one agent id and type)
  client-config <client> Print the snippet that connects a client (${CLIENTS.join(', ')})
  status                 Ask the running server for its health
  migrate                Apply database migrations and exit

Configuration comes from the environment or ./.env (see README). --help on any command, --version.`,
  serve: 'shared-context-server serve — serve HTTP on HTTP_HOST:HTTP_PORT (default 127.0.0.1:23456).',
  stdio:
    'shared-context-server stdio — MCP over stdio. Env: SCS_AGENT_ID (who you are), SCS_AGENT_TYPE, SCS_API_KEY.',
  keys:
    'shared-context-server keys [show [--api-key|--admin-key]|rotate|token <agent_id> [--admin]] — show prints the keys (--api-key / --admin-key: that one key alone, for $(…)); rotate only replaces generated keys (from DATA_DIR/keys.json).\n' +
    'shared-context-server keys issue --agent ID [--type TYPE] | keys revoke --agent ID | keys list [--agent ID] [--all] — agent keys: issue prints the key once (only its hash is stored; an earlier key of the agent is revoked); revoke ends the key, its tokens, sockets and subscriptions; list never shows keys (--all: revoked ones too).',
  'client-config': `shared-context-server client-config <${CLIENTS.join('|')}> [--agent-id ID] — print a config snippet for the running server (DATA_DIR/server.json), else the configured HTTP_HOST:HTTP_PORT.`,
  status:
    'shared-context-server status — GET /health of the running server (found in DATA_DIR/server.json, else the configured HTTP_HOST:HTTP_PORT) and print it.',
  migrate:
    'shared-context-server migrate — apply pending migrations to DATABASE_URL (or the SQLite default) and exit.',
};

/*
 * Each command imports what it runs when it runs (dynamic imports below): `status`, `client-config`
 * or `--version` never load the store, the services or the HTTP server (docs/memory.md).
 */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      admin: { type: 'boolean' },
      'api-key': { type: 'boolean' },
      'admin-key': { type: 'boolean' },
      'agent-id': { type: 'string' },
      agent: { type: 'string' },
      type: { type: 'string' },
      all: { type: 'boolean' },
    },
  });
  const [command = 'serve', ...rest] = positionals;
  if (values.version) {
    console.log(VERSION);
    return 0;
  }
  if (values.help) {
    console.log(HELP[positionals[0] ?? 'main'] ?? HELP.main);
    return 0;
  }
  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  switch (command) {
    case 'serve': {
      const { startApp } = await import('../app/app.js');
      const app = await startApp(config, logger);
      const secrets = app.services.secrets;
      // No key is printed: the command reads it when run (a banner ends up in terminals and logs).
      const keyFromEnv = config.apiKey !== undefined;
      process.stdout.write(
        [
          '',
          `shared-context-server ${VERSION} is serving on ${app.url}`,
          `  MCP (Streamable HTTP): ${app.url}/mcp    tools over HTTP: POST ${app.url}/mcp/tool/{name}`,
          `  data: ${config.database.kind === 'sqlite' ? config.database.file : 'PostgreSQL'} (directory 0700, files 0600)`,
          secrets.file
            ? `  keys: ${secrets.file}${secrets.generated ? ' (generated now, mode 0600)' : ''}`
            : '  keys: from the environment',
          keyFromEnv
            ? '  connect Claude Code ($API_KEY: the key this server was given):'
            : '  connect Claude Code (the command reads the key when you run it; it is never printed here):',
          `    ${clientConfig('claude-code', { url: app.url, apiKey: keyFromEnv ? '$API_KEY' : `$(${keysShowCommand(config)})`, agentId: 'claude-code', repoDir: REPO_DIR, dataDir: config.dataDir })}`,
          '  show the keys: npm run cli -- keys show',
          `  other clients: npm run cli -- client-config <${CLIENTS.filter((c) => c !== 'claude-code').join('|')}>`,
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
      // Loaded here: the MCP SDK is no part of what `serve` starts with (docs/memory.md).
      const { STDIO_IDENTITY_HINT, serveMcpStdio } = await import('../transports/mcp/mcp-stdio.js');
      // stderr only: stdout is the protocol channel.
      if (!process.env.SCS_AGENT_ID) process.stderr.write(`${STDIO_IDENTITY_HINT}\n`);
      const { createServices } = await import('../app/services.js');
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
      if (isAgentKeyAction(action)) {
        return runAgentKeyCommand(config, action, {
          agent: values.agent,
          type: values.type,
          all: values.all,
        });
      }
      const secrets = resolveSecrets(config);
      if (action === 'show' && (values['api-key'] || values['admin-key'])) {
        // One bare key, for $(…) in a shell command; nothing else on stdout.
        console.log(values['admin-key'] ? secrets.adminApiKey : secrets.apiKey);
        return 0;
      }
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
        const { createServices } = await import('../app/services.js');
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
      throw new ConfigError(`keys: unknown action "${action}" (show, rotate, token, issue, revoke, list)`);
    }
    case 'client-config': {
      const client = rest[0] as ClientName | undefined;
      if (client === undefined || !CLIENTS.includes(client)) {
        throw new ConfigError(`client-config: name a client: ${CLIENTS.join(', ')}`);
      }
      const { url, source, running } = locateServer(config);
      process.stderr.write(`# ${source}\n`);
      // A server given API_KEY in its environment: this shell may not have it, and a generated key
      // from keys.json would be the wrong one.
      const unknownKey = running?.api_key_source === 'environment' && config.apiKey === undefined;
      if (unknownKey) {
        process.stderr.write(
          '# the running server took its API key from its environment: replace ${API_KEY} below, or run this with API_KEY set\n',
        );
      }
      console.log(
        clientConfig(client, {
          url,
          apiKey: unknownKey ? '${API_KEY}' : resolveSecrets(config).apiKey,
          agentId: values['agent-id'] ?? client,
          repoDir: REPO_DIR,
          dataDir: config.dataDir,
        }),
      );
      return 0;
    }
    case 'status': {
      const { url, source } = locateServer(config);
      process.stderr.write(`${source}\n`);
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
      ensurePrivateDir(config.dataDir, { narrowExisting: true });
      const { openStore } = await import('../store/open-store.js');
      const store = await openStore(config.database);
      await store.close();
      console.log('Migrations applied.');
      return 0;
    }
    default:
      throw new ConfigError(`unknown command "${command}" (see --help)`);
  }
}

/**
 * Where the server is: the one serving this data directory (DATA_DIR/server.json, written after it
 * listens, when its process is alive), else the configured HTTP_HOST:HTTP_PORT. `source` says which.
 */
function locateServer(config: Config): { url: string; source: string; running?: RuntimeInfo } {
  const running = findRunningServer(config.dataDir);
  if (running !== undefined) {
    return {
      running,
      url: running.url,
      source: `server: ${running.url} (running, pid ${running.pid}, from ${runtimeFilePath(config.dataDir)})`,
    };
  }
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host;
  const url = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.port}`;
  return {
    url,
    source: `server: ${url} (from HTTP_HOST/HTTP_PORT; no running server recorded in ${runtimeFilePath(config.dataDir)})`,
  };
}

/** The shell command that prints this server's API key (`keys show --api-key` for its data directory). */
function keysShowCommand(config: Config): string {
  const inRepo = process.cwd() === REPO_DIR;
  const defaultDir = inRepo && config.dataDir === path.join(REPO_DIR, 'data');
  const dataDir = defaultDir ? '' : `DATA_DIR=${shellWord(config.dataDir)} `;
  const prefix = inRepo ? '' : ` --prefix ${shellWord(REPO_DIR)}`;
  return `${dataDir}npm run --silent${prefix} cli -- keys show --api-key`;
}

const shellWord = (word: string): string =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * Runs one command line (`argv` without node and the script). A command that keeps running (serve,
 * stdio) returns once it has started, after calling `started`; any other exits the process with its
 * status. A failure is one line on stderr and status 1.
 */
export function runCli(argv: string[], started: () => void = () => undefined): Promise<void> {
  return main(argv).then(
    (code) => {
      started();
      if (code >= 0) process.exit(code);
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const prefix = error instanceof ConfigError ? 'configuration error' : 'error';
      process.stderr.write(`shared-context-server: ${prefix}: ${message}\n`);
      process.exit(1);
    },
  );
}
