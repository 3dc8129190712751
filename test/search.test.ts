import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

interface Result {
  message: { id: number; content: string; metadata: unknown };
  score: number;
  match_preview: string;
  relevance: string;
}

const FILLER = [
  'alpha',
  'bravo',
  'charlie',
  'delta',
  'echo',
  'foxtrot',
  'golf',
  'hotel',
  'india',
  'juliet',
  'kilo',
];

describe('search_context', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  let sessionId: string;
  const search = async (args: Record<string, unknown>) => {
    const { status, body } = await callHttpTool(
      server.url,
      'search_context',
      { session_id: sessionId, ...args },
      auth,
    );
    expect(status).toBe(200);
    return body.results as Result[];
  };

  beforeAll(async () => {
    server = await startTestServer();
    auth = { authorization: `Bearer ${await tokenFor(server, 'searcher')}` };
    sessionId = (await callHttpTool(server.url, 'create_session', { purpose: 'search' }, auth)).body
      .session_id as string;
    // A long history of filler, so the index (not a scan) has to find the few targets.
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 1500; i++) {
      const words = Array.from({ length: 8 }, (_, j) => FILLER[(i * 7 + j * 3) % FILLER.length]).join(' ');
      writes.push(
        callHttpTool(server.url, 'add_message', { session_id: sessionId, content: `${words} ${i}` }, auth),
      );
      if (writes.length === 100) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    for (const [content, metadata] of [
      ['Found an authentication bypass in the login handler', null],
      ['The database migration for invoices is done', null],
      ['Connection pool exhausted under load', { component: 'postgres-connector' }],
      ['Unrelated note', { tags: ['kubernetes-rollout'] }],
    ] as const) {
      await callHttpTool(
        server.url,
        'add_message',
        { session_id: sessionId, content, ...(metadata ? { metadata } : {}) },
        auth,
      );
    }
  });
  afterAll(async () => server.cleanup());

  it('finds a message from a query with typos, best match first, with a 0–100 score', async () => {
    const results = await search({ query: 'authentcation bypas' });
    expect(results[0]?.message.content).toMatch(/authentication bypass/);
    expect(results[0]!.score).toBeGreaterThanOrEqual(80);
    for (const r of results) expect(r.score).toBeLessThanOrEqual(100);
    const scores = results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('finds each target of several typo queries over the whole history', async () => {
    expect((await search({ query: 'databse migraton' }))[0]?.message.content).toMatch(/database migration/);
    expect((await search({ query: 'conection pool' }))[0]?.message.content).toMatch(/Connection pool/);
  });

  it('an exact substring scores 100 and its preview shows where it matched', async () => {
    const [first] = await search({ query: 'invoices' });
    expect(first?.score).toBe(100);
    expect(first?.match_preview).toContain('invoices');
    expect(first?.relevance).toBe('high');
  });

  it('fuzzy_threshold drops weaker matches', async () => {
    const loose = await search({ query: 'delta echoo', fuzzy_threshold: 0, limit: 50 });
    const strict = await search({ query: 'delta echoo', fuzzy_threshold: 99, limit: 50 });
    expect(loose.length).toBe(50);
    expect(strict.length).toBeLessThan(loose.length);
    expect(strict.every((r) => r.score >= 99)).toBe(true);
  });

  it('metadata is searched unless search_metadata is false', async () => {
    const withMeta = await search({ query: 'kubernetes-rollout' });
    expect(withMeta[0]?.message.content).toBe('Unrelated note');
    const without = await search({
      query: 'kubernetes-rollout',
      search_metadata: false,
      fuzzy_threshold: 90,
    });
    expect(without.some((r) => r.message.content === 'Unrelated note')).toBe(false);
  });

  it('a query shorter than a trigram still finds substrings', async () => {
    const results = await search({ query: 'kilo 7', fuzzy_threshold: 100, limit: 100 });
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.message.content.includes('kilo 7'))).toBe(true);
    const tiny = await search({ query: 'ec', fuzzy_threshold: 100 });
    expect(tiny.length).toBeGreaterThan(0);
  });

  it('a message is found as soon as add_message returned, and only in its own session', async () => {
    const other = (await callHttpTool(server.url, 'create_session', { purpose: 'elsewhere' }, auth)).body
      .session_id as string;
    for (const session of [other, sessionId]) {
      const { status } = await callHttpTool(
        server.url,
        'add_message',
        {
          session_id: session,
          content: `platypus sighting in ${session === other ? 'the other' : 'this'} session`,
        },
        auth,
      );
      expect(status).toBe(200);
    }
    const here = await search({ query: 'platypus sightng', limit: 50 });
    expect(here.map((r) => r.message.content)).toContain('platypus sighting in this session');
    expect(here.some((r) => r.message.content.includes('the other'))).toBe(false);
  });

  it('an empty or whitespace query is refused with INVALID_INPUT', async () => {
    const { status, body } = await callHttpTool(
      server.url,
      'search_context',
      { session_id: sessionId, query: '   ' },
      auth,
    );
    expect(status).toBe(400);
    expect(body.code).toBe('INVALID_INPUT');
  });
});
