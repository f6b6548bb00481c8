// At most one request in flight; while it runs, only the newest waiting job is kept, and it
// is sent the moment the running one lands. This is what keeps drawing live without a queue
// of stale drawings piling up behind a slow server.

export class Coalescer {
  #run;
  #busy = false;
  #next = null;
  #waiters = [];

  #onBusy;

  /**
   * `run(job)` is an async function doing one request; it handles its own errors.
   * `onBusy(busy)` hears when work starts (true) and when nothing is left to do (false).
   */
  constructor(run, onBusy = () => {}) {
    this.#run = run;
    this.#onBusy = onBusy;
  }

  /**
   * Run `job` now, or after the one in flight, replacing any job already waiting.
   * Returns the job it replaced (never to run), or null.
   */
  push(job) {
    if (this.#busy) {
      const replaced = this.#next;
      this.#next = job;
      return replaced;
    }
    this.#start(job);
    return null;
  }

  /** Forget the waiting job, if any (the one in flight still lands); returns it or null. */
  drop() {
    const dropped = this.#next;
    this.#next = null;
    return dropped;
  }

  /** Resolves once nothing is in flight and nothing waits. */
  idle() {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #start(job) {
    if (!this.#busy) this.#onBusy(true);
    this.#busy = true;
    try {
      await this.#run(job);
    } catch (err) {
      // run() reports its own errors; this only keeps the chain alive
      console.error(err);
    }
    const next = this.#next;
    this.#next = null;
    if (next) {
      this.#start(next);
      return;
    }
    this.#busy = false;
    this.#onBusy(false);
    const waiters = this.#waiters;
    this.#waiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
