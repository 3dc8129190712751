import type BetterSqlite3 from 'better-sqlite3';
import {
  type ChangeFeed,
  type ChangeRow,
  headCursor,
  oldestCursor,
  purgeChangesBefore,
  readChanges,
} from '../change-feed.js';
import type { Db } from '../store.js';

/** How often another process's commits are looked for (PRAGMA data_version: no I/O, a few µs). */
export const DATA_VERSION_POLL_MS = 50;

type Listener = (upTo?: number) => void;

/**
 * The change feed on SQLite. Wake-ups come from two places:
 * - this process: the store's connection reports each insert into `changes` and each COMMIT
 *   (`recorded`, `committed`); listeners hear of a commit that recorded changes right after it;
 * - other processes (`stdio` beside `serve`): `PRAGMA data_version` changes when another connection
 *   committed, checked every DATA_VERSION_POLL_MS while someone listens (an unref'ed timer).
 */
export class SqliteChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<Listener>();
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  private lastDataVersion: number;
  private timer: NodeJS.Timeout | undefined;
  /** The highest cursor recorded by the open transaction, 0 when none. */
  private pending = 0;
  /** The highest committed cursor not yet announced (announcing is deferred to a microtask). */
  private announce = 0;

  constructor(
    private readonly db: Db,
    raw: BetterSqlite3.Database,
    private readonly pollMs = DATA_VERSION_POLL_MS,
  ) {
    this.dataVersion = raw.prepare<[], number>('PRAGMA data_version').pluck();
    this.lastDataVersion = this.dataVersion.get() ?? 0;
  }

  head(): Promise<number> {
    return headCursor(this.db);
  }

  oldest(): Promise<number> {
    return oldestCursor(this.db);
  }

  purgeBefore(cutoff: number): Promise<number> {
    return purgeChangesBefore(this.db, cutoff);
  }

  read(after: number, limit: number): Promise<ChangeRow[]> {
    return readChanges(this.db, after, limit);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.checkOtherProcesses(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  /** The connection inserted a change row (`inTransaction`: it commits later, else it committed now). */
  recorded(cursor: number, inTransaction: boolean): void {
    if (cursor > this.pending) this.pending = cursor;
    if (!inTransaction) this.committed();
  }

  /** The connection committed: announce what the transaction recorded, if anything. */
  committed(): void {
    if (this.pending === 0) return;
    const first = this.announce === 0;
    this.announce = Math.max(this.announce, this.pending);
    this.pending = 0;
    // Never call listeners inside the driver's statement: a throwing listener would fail the COMMIT.
    if (first) queueMicrotask(() => this.flush());
  }

  /** The transaction rolled back: what it recorded never happened. */
  rolledBack(): void {
    this.pending = 0;
  }

  close(): void {
    this.stopTimer();
    this.listeners.clear();
  }

  private flush(): void {
    const upTo = this.announce;
    this.announce = 0;
    this.notify(upTo);
  }

  private checkOtherProcesses(): void {
    let version: number;
    try {
      version = this.dataVersion.get() ?? 0;
    } catch {
      return; // closing: the connection is gone
    }
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    this.notify(undefined);
  }

  private notify(upTo: number | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(upTo);
      } catch {
        // A listener's failure is its own (the feed reader logs its errors).
      }
    }
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
