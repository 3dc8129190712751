import { sql } from 'kysely';
import type { Db } from './store.js';

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

  constructor(private readonly db: Db) {}

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
            await sql`SAVEPOINT write`.execute(trx);
            try {
              out.push({ ok: true, value: await job.work(trx) });
              await sql`RELEASE write`.execute(trx);
            } catch (error) {
              await sql`ROLLBACK TO write`.execute(trx);
              await sql`RELEASE write`.execute(trx);
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
