import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config.js';
import { AGENT_ID_PATTERN } from '../core/ids.js';

export const AGENT_KEY_ACTIONS = ['issue', 'revoke', 'list'] as const;
export type AgentKeyAction = (typeof AGENT_KEY_ACTIONS)[number];

export const isAgentKeyAction = (action: string): action is AgentKeyAction =>
  (AGENT_KEY_ACTIONS as readonly string[]).includes(action);

/** Who the audit log names for keys issued or revoked from the command line. */
const CLI_ACTOR = 'cli';

function agentOf(agent: string | undefined, action: AgentKeyAction): string {
  if (agent === undefined)
    throw new ConfigError(`keys ${action}: name the agent, e.g. keys ${action} --agent reviewer`);
  if (!AGENT_ID_PATTERN.test(agent)) {
    throw new ConfigError(
      `keys ${action}: --agent must be 1–100 characters of letters, digits, ".", "_", ":" or "-"`,
    );
  }
  return agent;
}

/**
 * `keys issue|revoke|list`: works on the database directly, so it needs no running server; a server
 * on the same database sees an issued key at once and a revocation within a second.
 */
export async function runAgentKeyCommand(
  config: Config,
  action: AgentKeyAction,
  options: { agent?: string | undefined; type?: string | undefined; all?: boolean | undefined },
): Promise<number> {
  const agentId = action === 'list' ? options.agent : agentOf(options.agent, action);
  if (options.type !== undefined && (options.type.length === 0 || options.type.length > 100)) {
    throw new ConfigError('keys issue: --type must be 1–100 characters');
  }
  const [{ openStore }, { AgentKeys }] = await Promise.all([
    import('../store/open-store.js'),
    import('../auth/agent-key.service.js'),
  ]);
  const store = await openStore(config.database);
  try {
    const keys = new AgentKeys(store);
    switch (action) {
      case 'issue': {
        const issued = await keys.issue(agentId!, options.type ?? 'generic', CLI_ACTOR);
        console.log(JSON.stringify(issued, null, 2));
        console.error(
          `Agent key for ${issued.agent_id} (${issued.agent_type}) issued${issued.replaced_key_id ? `, replacing ${issued.replaced_key_id}` : ''}. ` +
            'Store api_key now: it is not shown again. The agent sends it as X-API-Key with X-Agent-Id, or as api_key of authenticate_agent.',
        );
        return 0;
      }
      case 'revoke': {
        const revoked = await keys.revoke(agentId!, CLI_ACTOR);
        if (revoked === undefined) {
          console.error(`Agent ${agentId} has no active agent key (see: keys list).`);
          return 1;
        }
        console.log(JSON.stringify({ revoked }, null, 2));
        return 0;
      }
      case 'list': {
        const listed = await keys.list({ includeRevoked: options.all === true, agentId });
        console.log(JSON.stringify({ keys: listed, count: listed.length }, null, 2));
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}
