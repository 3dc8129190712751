import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.js';

const run = promisify(execFile);

describe('the SQLite search index', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scs-index-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('two processes on one file index every message exactly once, without errors', async () => {
    const file = path.join(dir, 'shared.db');
    const store = await openSqliteStore(file);
    await sql`INSERT INTO sessions VALUES ('session_0000000000000001', 'p', 'active', 'x', 0, 0, 'null')`.execute(
      store.db,
    );
    const other = run(process.execPath, ['--import', 'tsx', 'test/fixtures/index-loop.ts', file, '2500']);
    let written = 0;
    let errors = 0;
    const end = Date.now() + 2000;
    while (Date.now() < end) {
      for (let i = 0; i < 20; i++) {
        await sql`INSERT INTO messages (session_id, sender, sender_type, content, visibility, message_type, metadata, created_at)
          VALUES ('session_0000000000000001', 'x', 'g', ${`zebra ${written++}`}, 'public', 'm', 'null', 0)`.execute(
          store.db,
        );
      }
      await store.searchIndex.catchUp(store.db).catch(() => errors++);
    }
    const child = JSON.parse((await other).stdout) as { errors: number };
    await store.searchIndex.catchUp(store.db);
    const indexed = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM message_search WHERE message_search MATCH 'zebra'`.execute(store.db);
    await store.close();
    expect({ errors, childErrors: child.errors }).toEqual({ errors: 0, childErrors: 0 });
    expect(indexed.rows[0]?.n).toBe(written);
  });
});
