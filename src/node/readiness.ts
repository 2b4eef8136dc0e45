import { AppError } from '../errors.ts';
import type { FeedStatus } from '../projections/index.ts';
import type { ReadinessSnapshotReply } from '../protocol/index.ts';

/**
 * The readiness verdict with the figures it was made on (what `/readyz` shows): the protocol's schema is
 * the one definition, so the OpenAPI document and the server cannot drift apart.
 */
export type ReadinessSnapshot = ReadinessSnapshotReply;

/** Why a node is not ready. */
export type NotReadyReason = NonNullable<ReadinessSnapshot['reason']>;

/** What readiness watches: the projector, structurally. */
export interface ReadinessProjector {
  feedStatus(): FeedStatus;
  probeStream(): void;
  readonly failed: boolean;
  readonly isRunning: boolean;
}

export interface ReadinessOptions {
  projector: ReadinessProjector;
  /** Whether the NATS connection is up, without I/O. */
  connected: () => boolean;
  /** A ready node whose lag (as time) passes this is not ready. Default 3000 ms. */
  maxLagMs?: number;
  /** A node not ready for lag is ready again once its lag is back under this. Default 1000 ms. */
  recoverLagMs?: number;
  /** How often the verdict is made again. Default 200 ms. */
  intervalMs?: number;
  /** Default `Date.now`. */
  now?: () => number;
}

/**
 * Whether this node may serve: it is ready only when NATS is reachable, its projector runs and has applied
 * everything the stream held when the node started (or last reconnected), its feed is not stalled, and the
 * oldest event it knows of but has not applied is younger than `maxLagMs`. The lag is time, not a count (a
 * healthy burst is hundreds of events), and it has hysteresis: a node that fell behind is ready again only
 * below `recoverLagMs`, so a lag hovering at the bound does not flap.
 *
 * A node that is not ready takes no commands (HTTP 503 with Retry-After, and it leaves the NATS queue group):
 * a stale read model costs a retry elsewhere, never a claim or a result decided on it.
 */
export class Readiness {
  readonly #projector: ReadinessProjector;
  readonly #connected: () => boolean;
  readonly #maxLagMs: number;
  readonly #recoverLagMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(snapshot: ReadinessSnapshot) => void>();
  #reason: NotReadyReason | null = 'catching_up';
  #since: number;
  /** Since when this node must catch up, and to which sequence (null until the stream has answered). */
  #catchUp: { since: number; target: number | null } | null;
  #wasConnected = true;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: ReadinessOptions) {
    this.#projector = opts.projector;
    this.#connected = opts.connected;
    this.#maxLagMs = opts.maxLagMs ?? 3_000;
    this.#recoverLagMs = opts.recoverLagMs ?? 1_000;
    this.#intervalMs = opts.intervalMs ?? 200;
    this.#now = opts.now ?? Date.now;
    this.#since = this.#now();
    this.#catchUp = { since: this.#since, target: null };
  }

  /** Starts judging (the projector should be started first); the node begins as catching up. */
  start(): void {
    if (this.#timer !== null || this.#stopping) return;
    this.#catchUp = { since: this.#now(), target: null };
    this.#projector.probeStream();
    this.#timer = setInterval(() => this.evaluate(), this.#intervalMs);
    this.#timer.unref();
    this.evaluate();
  }

  /** Not ready from now on (shutdown). */
  stop(): void {
    this.#stopping = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.evaluate();
  }

  get ready(): boolean {
    return this.#reason === null;
  }

  /** The verdict now, with its figures. */
  snapshot(): ReadinessSnapshot {
    const feed = this.evaluate();
    return this.#snapshotOf(feed);
  }

  /** Throws AM_ERR_NOT_READY (503, retry after a second) unless this node is ready. */
  check(): void {
    if (this.#reason === null) return;
    const feed = this.#projector.feedStatus();
    throw new AppError(
      'AM_ERR_NOT_READY',
      `this server is not ready: ${this.#describe(this.#reason, feed)}`,
      {
        details: { reason: this.#reason, retryAfterSec: 1 },
      },
    );
  }

  /** Calls `listener` at every change of the verdict; returns the unsubscribe. */
  onChange(listener: (snapshot: ReadinessSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the node is ready (at once if it is); rejects when it is stopping or its projector failed. */
  whenReady(): Promise<void> {
    if (this.#reason === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const unsubscribe = this.onChange((snapshot) => {
        if (snapshot.ready) {
          unsubscribe();
          resolve();
        } else if (snapshot.reason === 'stopping' || snapshot.reason === 'projector_failed') {
          unsubscribe();
          reject(new AppError('AM_ERR_NOT_READY', `this server will not become ready: ${snapshot.detail}`));
        }
      });
    });
  }

  /** Makes the verdict again (called on a timer; public for tests and for fresh answers). */
  evaluate(): FeedStatus {
    const now = this.#now();
    const feed = this.#projector.feedStatus();
    const connected = this.#connected();
    if (!connected) {
      this.#wasConnected = false;
    } else if (!this.#wasConnected) {
      // Back after an outage: the stream may have moved on without us (other servers, a cluster).
      this.#wasConnected = true;
      this.#catchUp = { since: now, target: null };
      this.#projector.probeStream();
    }
    const catchUp = this.#catchUp;
    if (catchUp !== null) {
      if (catchUp.target === null && feed.probedAt !== null && feed.probedAt >= catchUp.since) {
        catchUp.target = feed.streamSeq;
      }
      if (catchUp.target !== null && feed.appliedSeq >= catchUp.target) this.#catchUp = null;
    }
    const reason = this.#judge(feed, connected);
    if (reason !== this.#reason) {
      this.#reason = reason;
      this.#since = now;
      const snapshot = this.#snapshotOf(feed);
      for (const listener of [...this.#listeners]) listener(snapshot);
    }
    return feed;
  }

  #judge(feed: FeedStatus, connected: boolean): NotReadyReason | null {
    if (this.#stopping) return 'stopping';
    if (this.#projector.failed) return 'projector_failed';
    if (!connected) return 'nats_unreachable';
    if (this.#catchUp !== null) return 'catching_up';
    if (feed.state === 'stalled') return 'feed_stalled';
    const limit = this.#reason === 'lagging' ? this.#recoverLagMs : this.#maxLagMs;
    if (feed.lagMs > limit) return 'lagging';
    return null;
  }

  #snapshotOf(feed: FeedStatus): ReadinessSnapshot {
    const reason = this.#reason;
    const connected = this.#connected();
    return {
      ready: reason === null,
      reason,
      detail: reason === null ? 'ready' : this.#describe(reason, feed),
      since: new Date(this.#since).toISOString(),
      nats: connected ? 'connected' : 'unavailable',
      projector: this.#projector.failed ? 'failed' : this.#projector.isRunning ? 'running' : 'stopped',
      appliedSeq: feed.appliedSeq,
      deliveredSeq: feed.deliveredSeq,
      streamSeq: feed.streamSeq,
      lag: Math.max(0, feed.streamSeq - feed.appliedSeq),
      lagMs: feed.lagMs,
      catchUpTo: this.#catchUp?.target ?? null,
    };
  }

  #describe(reason: NotReadyReason, feed: FeedStatus): string {
    switch (reason) {
      case 'catching_up': {
        const target = this.#catchUp?.target;
        return target === null || target === undefined
          ? 'asking the stream how far it reaches'
          : `catching up with the stream: applied ${feed.appliedSeq} of ${target}`;
      }
      case 'nats_unreachable':
        return 'NATS is unreachable';
      case 'feed_stalled':
        return `the event feed stalled at ${feed.deliveredSeq} while the stream reaches ${feed.streamSeq}; it is being restarted`;
      case 'lagging':
        return `the read model lags the stream by ${feed.lagMs} ms (${Math.max(0, feed.streamSeq - feed.appliedSeq)} events)`;
      case 'projector_failed':
        return 'the projector stopped after an error; the read model is not served';
      case 'stopping':
        return 'the server is stopping';
      default: {
        const unreachable: never = reason;
        return unreachable;
      }
    }
  }
}
