import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCorpus, prng } from '../bench/corpus.js';
import { typo } from '../bench/search-probes.js';
import { seedSqlite } from '../bench/seed-messages.js';
import { canSee, type Viewer } from '../src/messages/visibility.js';
import { scoreOf } from '../src/search/scoring.js';
import type { MessageRow } from '../src/store/schema.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

/**
 * Recall of the typo search at 10 against a brute-force ranking: every message of the session the
 * reader may see, scored by the same scorer, on the benchmark's corpus. A result counts when its
 * brute-force score reaches the tenth best (many messages tie on a score).
 */
describe('typo search recall against a brute-force ranking', () => {
  const MESSAGES = 10_000;
  let server: TestServer;
  let sessionId: string;
  let auth: Record<string, string>;
  let visible: MessageRow[];
  // An agent_type no seeded message has: agent_only messages are invisible to it, and private ones
  // are visible only when it sent them (the seed gives some to it).
  const viewer: Viewer = { agentId: 'reader', agentType: 'auditor', isAdmin: false };

  beforeAll(async () => {
    server = await startTestServer();
    auth = {
      authorization: `Bearer ${await tokenFor(server, viewer.agentId, { agentType: viewer.agentType })}`,
    };
    sessionId = (await callHttpTool(server.url, 'create_session', { purpose: 'recall' }, auth)).body
      .session_id as string;
    await server.stop();
    const file = path.join(server.dataDir, 'shared-context.db');
    // Other sessions around it, so the index holds more than the session searched.
    seedSqlite(file, 'session_00000000000000ff', 'someone', MESSAGES, { seed: 11, createSession: true });
    seedSqlite(file, sessionId, viewer.agentId, MESSAGES);
    const db = new BetterSqlite3(file, { readonly: true });
    visible = (
      db.prepare('SELECT * FROM messages WHERE session_id = ?').all(sessionId) as MessageRow[]
    ).filter((m) => canSee(viewer, m));
    db.close();
    server = await startTestServer({}, server.dataDir);
  });
  afterAll(async () => server.cleanup());

  it('finds at least 9 in 10 of the best matches of typo queries', async () => {
    const random = prng(2024);
    const words = createCorpus(42).vocabulary.filter((w) => /^[a-z]{7,}$/.test(w));
    const targets = [
      'connection pool',
      'database migration',
      'authentication service',
      'migration script',
      'connection timeout',
      ...Array.from({ length: 20 }, () => words[Math.floor(random() * words.length)] as string),
    ];
    const recalls: number[] = [];
    for (const target of targets) {
      const query = typo(target, random);
      const { status, body } = await callHttpTool(
        server.url,
        'search_context',
        { session_id: sessionId, query, fuzzy_threshold: 0, limit: 10 },
        auth,
      );
      expect(status).toBe(200);
      const results = body.results as Array<{ message: { id: number }; score: number }>;
      const brute = new Map(visible.map((m) => [m.id, scoreOf(m, query, true)]));
      // Visibility before ranking: every result is one the reader may see, scored as brute force would.
      for (const r of results) expect(r.score).toBe(brute.get(r.message.id));
      const tenth = [...brute.values()].sort((a, b) => b - a)[9] ?? 0;
      recalls.push(results.filter((r) => r.score >= tenth).length / Math.min(10, brute.size));
    }
    const mean = recalls.reduce((a, b) => a + b, 0) / recalls.length;
    expect(mean).toBeGreaterThanOrEqual(0.9);
  });
});
