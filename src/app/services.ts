import type { Config } from '../config/config.js';
import type { Logger } from '../logger.js';
import { AuthService } from '../auth/auth.service.js';
import { type Secrets, resolveSecrets } from '../auth/secrets.js';
import { MemoryService } from '../memory/memory.service.js';
import { MessageService } from '../messages/message.service.js';
import { SearchService } from '../search/search.service.js';
import { SessionService } from '../sessions/session.service.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** Hooks the real-time issue fills in; absent means "not measured / not limited". */
export interface RateLimiter {
  /** Throws RATE_LIMITED with retry_after when the agent is over its budget. */
  take(agentId: string): void;
}

export interface ToolMetrics {
  toolCall(tool: string, code: string, ms: number): void;
}

/** Everything a tool handler or a transport may call: the core, wired once per process. */
export interface Services {
  readonly config: Config;
  readonly logger: Logger;
  readonly secrets: Secrets;
  readonly store: Store;
  readonly auth: AuthService;
  readonly sessions: SessionService;
  readonly messages: MessageService;
  readonly memory: MemoryService;
  readonly search: SearchService;
  readonly rateLimiter?: RateLimiter;
  readonly metrics?: ToolMetrics;
}

const MAX_METADATA_BYTES = 64 * 1024;

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const secrets = resolveSecrets(config);
  const store = await openStore(config.database);
  const db = store.db;
  const auth = new AuthService(db, secrets, config.tokenExpirySeconds);
  await auth.init();
  return {
    config,
    logger,
    secrets,
    store,
    auth,
    sessions: new SessionService(db),
    messages: new MessageService(db, {
      maxContentLength: config.maxContentLength,
      maxMetadataBytes: MAX_METADATA_BYTES,
    }),
    memory: new MemoryService(db, config.maxMemoryValueBytes),
    search: new SearchService(db, store.searchIndex),
  };
}
