import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the WAL back into the database. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * Commits before the worker starts: a process that writes little (most starts, the CLI, a quiet
 * server) keeps SQLite's own checkpoints, small at this rate, and not the worker's ~10 MB of memory.
 */
const COMMITS_BEFORE_WORKER = 1_000;
/** The connection's own checkpoint threshold while there is no worker (SQLite's default), in pages. */
export const WAL_AUTOCHECKPOINT_ALONE = 1_000;
/** Its threshold once the worker runs: a backstop, reached only if the worker falls behind. */
const WAL_AUTOCHECKPOINT_BACKSTOP = 4_000;

/**
 * The worker's code, plain CommonJS evaluated as the worker's script (so it loads the same way from
 * src/ under tsx and from dist/): its own connection to the database, a PASSIVE checkpoint on a
 * timer. PASSIVE never waits for and never blocks the writer; a checkpoint that meets another
 * (another process's worker) is skipped.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message ? error.message : error) });
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Moves WAL checkpoints off the event loop. A checkpoint copies the WAL's pages into the database
 * and syncs both; run by SQLite inside the COMMIT that crosses `wal_autocheckpoint`, it stalled the
 * event loop for tens of milliseconds. This worker thread checkpoints every CHECKPOINT_INTERVAL_MS
 * instead, on its own connection; the main connection's `wal_autocheckpoint` is then raised to a
 * backstop (if the worker falls behind, and so that a fully copied WAL starts over from its
 * beginning). Started after COMMITS_BEFORE_WORKER commits of this process.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  /** Resolves when the worker has exited (whether stopped or failed). */
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private commits = 0;

  constructor(
    private readonly file: string,
    /** Sets the main connection's own checkpoint threshold (pages). */
    private readonly setAutocheckpoint: (pages: number) => void,
    private readonly onError: (message: string) => void = () => undefined,
    private readonly commitsBeforeWorker = COMMITS_BEFORE_WORKER,
  ) {}

  /** Counts a commit; starts the worker at the threshold (one comparison otherwise). */
  committed(): void {
    if (++this.commits === this.commitsBeforeWorker) this.start();
  }

  /** Whether the worker runs. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private start(): void {
    if (this.worker !== undefined || this.stopped) return;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file: this.file, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    worker.unref();
    worker.on('message', (message: { error?: string }) => {
      if (message.error !== undefined) this.onError(message.error);
    });
    worker.on('error', (error) => this.onError(error.message));
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.worker = worker;
    this.setAutocheckpoint(WAL_AUTOCHECKPOINT_BACKSTOP);
  }

  /** Stops the worker after its current checkpoint, closing its connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 5_000);
    await this.exited;
    clearTimeout(timeout);
  }
}
