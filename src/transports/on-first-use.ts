/**
 * A part of the server that is imported and built on its first use instead of at start, so an idle
 * server holds only what it serves (docs/memory.md). Concurrent first uses share one load; a failed
 * load is forgotten, so the next use tries again (and meets the same error while its cause lasts).
 */
export class OnFirstUse<T> {
  private loading: Promise<T> | undefined;
  private value: T | undefined;

  constructor(private readonly load: () => Promise<T>) {}

  /** The part, loaded now if this is its first use. */
  get(): Promise<T> {
    if (this.loading === undefined) {
      const loading = this.load().then((value) => (this.value = value));
      loading.catch(() => {
        if (this.loading === loading) this.loading = undefined;
      });
      this.loading = loading;
    }
    return this.loading;
  }

  /** The part if it has been loaded, without loading it (undefined: never used yet). */
  get loaded(): T | undefined {
    return this.value;
  }

  /** The part once a load in progress has ended; undefined when it was never used (nothing to close). */
  async settled(): Promise<T | undefined> {
    await this.loading?.catch(() => undefined);
    return this.value;
  }
}
