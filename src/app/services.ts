import type { Config } from '../config/config.js';
import type { Logger } from '../logger.js';
import { AgentService } from '../agents/agent.service.js';
import { MailService } from '../agents/mail.service.js';
import { AuditLog } from '../audit/audit.service.js';
import { McpSessionService } from '../connections/mcp-session.service.js';
import { AuthService } from '../auth/auth.service.js';
import { DashboardAuth } from '../auth/dashboard-auth.js';
import { type Secrets, resolveSecrets } from '../auth/secrets.js';
import { MemoryService } from '../memory/memory.service.js';
import { MessageService } from '../messages/message.service.js';
import { Metrics } from '../metrics/metrics.js';
import { FeedReader } from '../realtime/feed-reader.js';
import { MessageWaiter } from '../realtime/message-waiter.js';
import { TokenBucketRateLimiter } from '../realtime/rate-limiter.js';
import { ResourceSubscriptions } from '../realtime/resource-subscriptions.js';
import { SearchService } from '../search/search.service.js';
import { SessionService } from '../sessions/session.service.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** Everything a tool handler or a transport may call: the core, wired once per process. */
export interface Services {
  readonly config: Config;
  readonly logger: Logger;
  readonly secrets: Secrets;
  readonly store: Store;
  /** The process's one reader of the change feed: every real-time consumer listens here. */
  readonly feed: FeedReader;
  readonly metrics: Metrics;
  readonly rateLimiter: TokenBucketRateLimiter;
  /**
   * Per client address, for traffic without a valid identity: anonymous initialize, and every agent
   * id the per-agent limiter has not seen yet (so rotating X-Agent-Id does not escape the limit).
   */
  readonly anonymousLimiter: TokenBucketRateLimiter;
  /** Per client address: failed authentications; when empty, the address's credentials are refused unchecked. */
  readonly authFailureLimiter: TokenBucketRateLimiter;
  readonly auth: AuthService;
  /** The dashboard's login (ADMIN_PASSWORD, else the admin API key) and its cookie tokens. */
  readonly dashboard: DashboardAuth;
  readonly sessions: SessionService;
  readonly messages: MessageService;
  readonly memory: MemoryService;
  readonly search: SearchService;
  readonly agents: AgentService;
  readonly mail: MailService;
  /** The audit trail, for the admin tool and retention (writes go with each action's transaction). */
  readonly audit: AuditLog;
  readonly waiter: MessageWaiter;
  readonly subscriptions: ResourceSubscriptions;
  /** 2025-era MCP sessions kept in the database, for another node to take over. */
  readonly mcpSessions: McpSessionService;
  /** Stops background work and closes the store. */
  close(): Promise<void>;
}

const MAX_METADATA_BYTES = 64 * 1024;

/** How often agent keys are re-read from the database (one indexed query of the rows changed since). */
const AGENT_KEY_SYNC_MS = 1_000;

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const secrets = resolveSecrets(config);
  const metrics = new Metrics();
  const store = await openStore(config.database, {
    onQuery: (sql, ms) => metrics.dbQuery(sql, ms),
    onBackgroundError: (error) => logger.warn({ err: error }, 'database background work failed'),
  });
  const db = store.db;
  const anon = config.anonymousRateLimit;
  const anonymousLimiter = new TokenBucketRateLimiter(anon.perSecond, anon.burst, {
    what: (address) => `unauthenticated requests from ${address}`,
  });
  const rateLimiter = new TokenBucketRateLimiter(config.rateLimit.perSecond, config.rateLimit.burst, {
    newcomers: {
      limiter: anonymousLimiter,
      what: (address) =>
        `new agent ids from ${address} (each agent id an address introduces costs one of its unauthenticated requests)`,
    },
  });
  const authFailureLimiter = new TokenBucketRateLimiter(anon.perSecond, anon.burst, {
    what: (address) => `failed authentications from ${address}`,
  });
  const auth = new AuthService(store, secrets, {
    tokenTtlSeconds: config.tokenExpirySeconds,
    requireAgentKeys: config.requireAgentKeys,
    agentLimiter: rateLimiter,
    failureLimiter: authFailureLimiter,
  });
  await auth.init();
  // Keys issued or revoked by another process on this database (the CLI) take effect when the
  // change feed brings their change (below); this poll is the safety net.
  auth.agentKeys.watch(AGENT_KEY_SYNC_MS, (error) => logger.warn({ err: error }, 'agent key sync failed'));
  const messages = new MessageService(store, {
    maxContentLength: config.maxContentLength,
    maxMetadataBytes: MAX_METADATA_BYTES,
    maxReplyBytes: config.limits.maxReplyBytes,
  });
  const agents = new AgentService(store, (error) => logger.warn({ err: error }, 'recording presence failed'));
  const mail = new MailService(store, agents, config.maxContentLength, config.limits.maxReplyBytes);
  const feed = new FeedReader(
    store.changeFeed,
    { messages: (ids) => messages.byIds(ids), mail: (ids) => mail.byIds(ids) },
    {
      issuedKeyEndsConnections: config.requireAgentKeys,
      onError: (error) => logger.error({ err: error }, 'reading the change feed failed'),
      onRead: (change) => metrics.feedChange(change.kind),
    },
  );
  const syncKeys = () =>
    auth.agentKeys.sync().catch((error: unknown) => logger.warn({ err: error }, 'agent key sync failed'));
  // Revocations by any process on the database take effect here at once.
  feed.subscribe(
    (event) => {
      if (event.type === 'token.revoked') {
        if (event.jti !== undefined) auth.noteRevoked(event.jti);
        else {
          // An ended key, or the whole agent revoked: both are re-read.
          void syncKeys();
          auth
            .noteAgentRevoked(event.agentId)
            .catch((error: unknown) => logger.warn({ err: error }, 'reading an agent revocation failed'));
        }
      } else if (event.type === 'agent_key.changed') void syncKeys();
    },
    (change) => change.kind === 'revocation' || change.kind === 'agent_key',
  );
  const waiter = new MessageWaiter(feed, messages);
  metrics.track('long_polls', () => waiter.waiting);
  const subscriptions = new ResourceSubscriptions(feed, feed);
  await feed.start();
  return {
    config,
    logger,
    secrets,
    store,
    feed,
    metrics,
    rateLimiter,
    anonymousLimiter,
    authFailureLimiter,
    auth,
    dashboard: new DashboardAuth(
      secrets.jwtSecret,
      config.adminPassword ?? secrets.adminApiKey,
      auth,
      authFailureLimiter,
    ),
    sessions: new SessionService(store, config.limits.maxReplyBytes),
    messages,
    memory: new MemoryService(store, config.maxMemoryValueBytes, config.limits.maxReplyBytes),
    search: new SearchService(db, store.searchIndex, config.limits.maxReplyBytes),
    agents,
    mail,
    audit: new AuditLog(store, config.limits.maxReplyBytes),
    waiter,
    subscriptions,
    mcpSessions: new McpSessionService(store, config.limits.mcpSessionIdleSeconds * 1000),
    async close() {
      auth.agentKeys.stop();
      await feed.close();
      waiter.close();
      subscriptions.close();
      await agents.flush().catch(() => undefined);
      await agents.stop().catch(() => undefined);
      await store.close();
    },
  };
}
