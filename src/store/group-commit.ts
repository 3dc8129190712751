import type { Db } from './store.js';

/**
 * The savepoint around each write of a batch, run on the batch transaction's connection. They are
 * statements without parameters or results, two per write: run directly, not as Kysely queries.
 */
export interface Savepoints {
  open(): void;
  release(): void;
  /** Undoes the write since `open` and ends the savepoint. */
  rollback(): void;
}

interface Job {
  work: (trx: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Result = { ok: true; value: unknown } | { ok: false; error: unknown };

const MAX_BATCH = 256;

/**
 * Group commit: write transactions that arrive together share one database transaction, each in
 * its own savepoint (a failing one rolls back alone), and every caller is answered after the
 * shared COMMIT — so a confirmed write is as durable as with a transaction of its own, while the
 * commit, the costliest step of a small write, is paid once per batch instead of once per write.
 */
export class GroupCommit {
  private readonly queue: Job[] = [];
  private draining = false;

  constructor(
    private readonly db: Db,
    private readonly savepoints: Savepoints,
  ) {}

  run<T>(work: (trx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // One turn of the event loop lets concurrent requests join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      let results: Result[];
      try {
        results = await this.db.transaction().execute(async (trx) => {
          const out: Result[] = [];
          for (const job of batch) {
            this.savepoints.open();
            try {
              out.push({ ok: true, value: await job.work(trx) });
              this.savepoints.release();
            } catch (error) {
              this.savepoints.rollback();
              out.push({ ok: false, error });
            }
          }
          return out;
        });
      } catch (error) {
        for (const job of batch) job.reject(error);
        continue;
      }
      batch.forEach((job, i) => {
        const result = results[i]!;
        if (result.ok) job.resolve(result.value);
        else job.reject(result.error);
      });
    }
    this.draining = false;
  }
}
