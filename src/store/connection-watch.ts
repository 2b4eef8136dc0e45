import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Follows a connection's disconnect/reconnect status. nats.js drops what was buffered for the server when
 * it reconnects, so a request sent while disconnected (or in flight at the disconnect) never gets a reply
 * and would only end at its timeout: the store waits for the reconnect before publishing, and republishes
 * (same msgID, so stored at most once) a request that a reconnect overtook.
 */
export class ConnectionWatch {
  #connected = true;
  #waiters = new Set<() => void>();
  #reconnectListeners = new Set<() => void>();
  readonly #standingListeners: Array<() => void> = [];
  #stopped = false;
  readonly #statuses: AsyncIterable<{ type: string }> & { stop?: () => void };

  constructor(nc: NatsConnection) {
    // nats.js returns a QueuedIterator, which has stop(); the declared type only says AsyncIterable.
    this.#statuses = nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    void this.#follow();
    void nc.closed().then(() => this.stop());
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves true once connected, or false after `ms`. */
  waitConnected(ms: number): Promise<boolean> {
    if (this.#connected) return Promise.resolve(true);
    if (this.#stopped || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(this.#connected);
      };
      const timer = setTimeout(wake, ms);
      this.#waiters.add(wake);
    });
  }

  /** Calls `listener` at every reconnect, before the one-shot listeners of onNextReconnect. */
  onReconnect(listener: () => void): void {
    this.#standingListeners.push(listener);
  }

  /** Calls `listener` at the next reconnect; returns the function that cancels it. */
  onNextReconnect(listener: () => void): () => void {
    const once = () => {
      this.#reconnectListeners.delete(once);
      listener();
    };
    this.#reconnectListeners.add(once);
    return () => this.#reconnectListeners.delete(once);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#connected = false;
    this.#statuses.stop?.();
    for (const wake of [...this.#waiters]) wake();
  }

  async #follow(): Promise<void> {
    for await (const status of this.#statuses) {
      if (this.#stopped) return;
      if (status.type === 'disconnect') {
        this.#connected = false;
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        for (const wake of [...this.#waiters]) wake();
        for (const listener of this.#standingListeners) listener();
        for (const listener of [...this.#reconnectListeners]) listener();
      }
    }
  }
}
