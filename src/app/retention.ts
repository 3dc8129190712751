import type { Services } from './services.js';

const DAY_MS = 86_400_000;

/**
 * The background clean-up: expired memory and revocations always; old audit rows, archived
 * sessions, old change-feed rows and old messages only when their RETENTION_* setting is above 0. Each purge is a method
 * of the feature's service: the app layer reaches the database only through services.
 */
export async function runRetention(services: Services, now = Date.now()): Promise<Record<string, number>> {
  const { retention } = services.config;
  const result: Record<string, number> = {
    memory: await services.memory.purgeExpired(now),
    revocations: await services.auth.purgeExpiredRevocations(now),
    // MCP sessions no node used for their idle time (their node died, or they idled out there).
    mcp_sessions: await services.mcpSessions.purgeIdle(
      now - services.config.limits.mcpSessionIdleSeconds * 1000,
    ),
  };
  if (retention.auditDays > 0)
    result.audit = await services.audit.purgeBefore(now - retention.auditDays * DAY_MS);
  if (retention.archivedSessionDays > 0) {
    result.sessions = await services.sessions.purgeArchivedBefore(
      now - retention.archivedSessionDays * DAY_MS,
    );
  }
  if (retention.changeDays > 0)
    result.changes = await services.feed.purgeBefore(now - retention.changeDays * DAY_MS);
  if (retention.messageDays > 0)
    result.messages = await services.messages.purgeBefore(now - retention.messageDays * DAY_MS);
  return result;
}

export function startRetention(services: Services): { stop(): void } {
  const seconds = services.config.retention.intervalSeconds;
  if (seconds === 0) return { stop() {} };
  // Several nodes on one PostgreSQL: one of them runs it at a time; the others skip that round.
  const run = () => {
    services.store
      .exclusive('retention', () => runRetention(services))
      .then((purged) =>
        services.logger.debug({ purged: purged ?? 'another node is running it' }, 'retention run'),
      )
      .catch((error: unknown) => services.logger.warn({ err: error }, 'retention run failed'));
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, seconds * 1000);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
