import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { WalCheckpointer } from '../src/store/sqlite/wal-checkpointer.js';

/**
 * The WAL checkpointer's worker thread, on a real SQLite file: the main connection never
 * checkpoints (wal_autocheckpoint 0), so only the worker can move the WAL's pages into the
 * database file.
 */
describe('WAL checkpoints on a worker thread', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function openWal(): { file: string; db: Database.Database } {
    const dir = mkdtempSync(path.join(tmpdir(), 'scs-wal-'));
    dirs.push(dir);
    const file = path.join(dir, 'test.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
    return { file, db };
  }

  const writeRows = (db: Database.Database, n: number) => {
    const insert = db.prepare('INSERT INTO t (text) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(`row ${i} ${'x'.repeat(200)}`);
    })();
  };

  async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return check();
  }

  it('starts at its commit threshold, copies the WAL into the database, and stops cleanly', async () => {
    const { file, db } = openWal();
    const thresholds: number[] = [];
    const errors: string[] = [];
    const checkpointer = new WalCheckpointer(
      file,
      (pages) => thresholds.push(pages),
      (e) => errors.push(e),
      3,
    );
    writeRows(db, 2_000);
    const before = statSync(file).size;
    checkpointer.committed();
    checkpointer.committed();
    expect(checkpointer.running).toBe(false);
    // Nobody checkpoints yet: the database file keeps its size.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(statSync(file).size).toBe(before);
    checkpointer.committed();
    expect(checkpointer.running).toBe(true);
    expect(thresholds).toHaveLength(1);
    expect(await until(() => statSync(file).size > before + 200_000)).toBe(true);
    // It keeps going: later writes reach the database file too.
    const after = statSync(file).size;
    writeRows(db, 2_000);
    expect(await until(() => statSync(file).size > after + 200_000)).toBe(true);
    await checkpointer.stop();
    expect(checkpointer.running).toBe(false);
    expect(errors).toEqual([]);
    // Every row is there, read by a fresh connection.
    db.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 4_000 });
    check.close();
  });

  it('reports a checkpoint failure instead of throwing', async () => {
    const { file, db } = openWal();
    const errors: string[] = [];
    const checkpointer = new WalCheckpointer(
      file,
      () => undefined,
      (e) => errors.push(e),
      1,
    );
    db.close();
    rmSync(file);
    checkpointer.committed();
    expect(await until(() => errors.length > 0)).toBe(true);
    await checkpointer.stop();
  });
});
