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
 * The change feed on SQLite. Change rows are written by triggers (migration 0005) in the writer's
 * own statement. Wake-ups come from two places:
 * - this process: the store's connection reports each COMMIT (`committed`); when the feed's head
 *   moved, listeners hear of it right after, with the new head;
 * - other processes (`stdio` beside `serve`): `PRAGMA data_version` changes when another connection
 *   committed, checked every DATA_VERSION_POLL_MS while someone listens (an unref'ed timer).
 */
export class SqliteChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<Listener>();
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  /** The feed's head: its highest cursor, the last entry of its primary key (prepared once the table exists). */
  private headQuery: BetterSqlite3.Statement<[], number | null> | undefined;
  private lastDataVersion: number;
  private timer: NodeJS.Timeout | undefined;
  /** The highest cursor announced (or about to be, in a microtask). */
  private announced = 0;
  private announcing = false;

  constructor(
    private readonly db: Db,
    private readonly raw: BetterSqlite3.Database,
    private readonly pollMs = DATA_VERSION_POLL_MS,
  ) {
    this.dataVersion = raw.prepare<[], number>('PRAGMA data_version').pluck();
    this.lastDataVersion = this.dataVersion.get() ?? 0;
  }

  head(): Promise<number> {
    return headCursor(this.db);
  }

  /** Cursors are dense here (one per change): the oldest kept one must follow `after` at once. */
  async keeps(after: number): Promise<boolean> {
    const oldest = await oldestCursor(this.db);
    return oldest !== 0 && after + 1 >= oldest;
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

  /**
   * The store's connection committed. One read of the head (the last key of the primary key, a few
   * µs) tells whether the transaction recorded changes; listeners are told after the driver's call
   * returns.
   */
  committed(): void {
    if (this.listeners.size === 0) return;
    let head: number;
    try {
      this.headQuery ??= this.raw.prepare<[], number | null>('SELECT max(cursor) FROM changes').pluck();
      head = this.headQuery.get() ?? 0;
    } catch {
      return; // closing, or before the migrations: nobody to tell
    }
    if (head <= this.announced) return;
    this.announced = head;
    if (this.announcing) return;
    this.announcing = true;
    // Never call listeners inside the driver's statement: a throwing listener would fail the COMMIT.
    queueMicrotask(() => {
      this.announcing = false;
      this.notify(this.announced);
    });
  }

  close(): void {
    this.stopTimer();
    this.listeners.clear();
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
