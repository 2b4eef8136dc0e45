import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TurnEnd } from '../../../src/nats/turn-end.ts';
import { FeedFollower } from '../../../src/projections/feed-follower.ts';
import type { FeedSource, FeedStall, RawStoredMessage } from '../../../src/projections/feed-source.ts';
import { waitUntil } from '../../kit/wait-until.ts';

/**
 * An in-memory stand-in for the event store's feed (this is pure code under test): each
 * consumeBatches() call is one "consumer" fed by deliver(); the stream's last sequence is `tail`.
 */
class FakeFeed implements FeedSource {
  tail = 0;
  ackedSeq = 0;
  connected = true;
  /** The next this many starts throw (no stream leader, NATS down). */
  failingStarts = 0;
  readonly starts: number[] = [];
  #current: { queue: RawStoredMessage[][]; wake: (() => void) | null } | null = null;

  async *consumeBatches(
    fromSeq: number,
    opts: { signal?: AbortSignal } = {},
  ): AsyncIterable<RawStoredMessage[]> {
    this.starts.push(fromSeq);
    if (this.failingStarts > 0) {
      this.failingStarts -= 1;
      throw new Error('no stream leader');
    }
    const feed: { queue: RawStoredMessage[][]; wake: (() => void) | null } = { queue: [], wake: null };
    this.#current = feed;
    const { signal } = opts;
    const onAbort = () => feed.wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        const batch = feed.queue.shift();
        if (batch) {
          yield batch;
          continue;
        }
        await new Promise<void>((resolve) => {
          feed.wake = resolve;
        });
        feed.wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async lastSeq(): Promise<number> {
    return this.tail;
  }

  /** Delivers `seqs` together, each with the `pending` the server would report. */
  deliver(seqs: number[], pending: (seq: number) => number = () => 0): void {
    const feed = this.#current;
    if (!feed) throw new Error('no feed is running');
    feed.queue.push(
      seqs.map((seq) => ({ seq, subject: 's', data: new Uint8Array(), pending: pending(seq) })),
    );
    feed.wake?.();
  }
}

function follow(
  source: FakeFeed,
  opts: { fromSeq?: number; apply?: (seqs: number[]) => void; turnEnd?: TurnEnd } = {},
) {
  const turnEnd = opts.turnEnd ?? new TurnEnd();
  const applied: number[][] = [];
  const stalls: FeedStall[] = [];
  const feedErrors: unknown[] = [];
  const follower = new FeedFollower({
    source,
    fromSeq: opts.fromSeq ?? 1,
    apply: (messages) => {
      const seqs = messages.map((m) => m.seq);
      opts.apply?.(seqs);
      applied.push(seqs);
      return messages.length;
    },
    maxHoldMs: 20,
    stallMs: 3_000,
    probeIntervalMs: 1_000,
    watchIntervalMs: 250,
    onStall: (stall) => stalls.push(stall),
    onFeedError: (error) => feedErrors.push(error),
    afterSends: (work) => turnEnd.afterSends(work),
  });
  const running = follower.run();
  running.catch(() => {});
  return { follower, applied, stalls, feedErrors, running, flat: () => applied.flat() };
}

/** Fake time moves by `ms`, then one more millisecond: immediates queued at the end run too. */
async function advance(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await vi.advanceTimersByTimeAsync(1);
}

describe('FeedFollower', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    await vi.runOnlyPendingTimersAsync();
    vi.useRealTimers();
  });

  describe('when the server says nothing is pending', () => {
    it('applies the delivery at the end of the event-loop turn, after the sends queued in it', async () => {
      const source = new FakeFeed();
      const order: string[] = [];
      const turnEnd = new TurnEnd();
      const feed = follow(source, { apply: (seqs) => order.push(`apply ${seqs.join(',')}`), turnEnd });
      await advance();
      source.deliver([1, 2]);
      turnEnd.send(() => order.push('send'));
      await advance();
      expect(order).toEqual(['send', 'apply 1,2']);
      expect(feed.follower.status()).toMatchObject({ appliedSeq: 2, deliveredSeq: 2, lagMs: 0 });
      feed.follower.stop();
      await feed.running;
    });
  });

  describe('when nats-server over-counts pending (it never reaches 0)', () => {
    it('applies at once when nothing beyond the delivery is known to be in the stream', async () => {
      const source = new FakeFeed();
      source.tail = 3;
      const feed = follow(source);
      await advance();
      source.deliver([1, 2, 3], () => 1_050);
      await advance();
      expect(feed.flat()).toEqual([1, 2, 3]);
      feed.follower.stop();
      await feed.running;
    });

    it('applies at the end of the turn when only a few events are known beyond it (appends in flight)', async () => {
      const source = new FakeFeed();
      source.tail = 10;
      const feed = follow(source);
      await advance();
      // The server counts 500 pending (2.9 over-counts), but the stream is known to end 7 events further.
      source.deliver([1, 2, 3], () => 500);
      await advance();
      expect(feed.flat()).toEqual([1, 2, 3]);
      feed.follower.stop();
      await feed.running;
    });

    it('applies what arrived within maxHoldMs when the stream is known to hold many more, and never waits for it', async () => {
      const source = new FakeFeed();
      source.tail = 10_000;
      const feed = follow(source);
      await advance();
      source.deliver([1, 2, 3], () => 500);
      await advance(17);
      expect(feed.flat()).toEqual([]);
      await advance(2);
      expect(feed.flat()).toEqual([1, 2, 3]);
      feed.follower.stop();
      await feed.running;
    });
  });

  describe('when the feed goes quiet with the stream holding more', () => {
    it('starts it again from after the last delivery once stallMs passed, and says so', async () => {
      const source = new FakeFeed();
      const feed = follow(source);
      await advance();
      source.deliver([1, 2, 3]);
      await advance();
      // Another process appended 4 and 5; this feed never delivers them.
      source.tail = 5;
      await advance(1_000);
      expect(feed.follower.status().streamSeq).toBe(5);
      expect(source.starts).toEqual([1]);
      await advance(3_000);
      expect(feed.stalls).toEqual([{ deliveredSeq: 3, streamSeq: 5 }]);
      expect(source.starts).toEqual([1, 4]);
      expect(feed.follower.status()).toMatchObject({ state: 'stalled', restarts: 1 });
      source.deliver([4, 5]);
      await advance();
      expect(feed.flat()).toEqual([1, 2, 3, 4, 5]);
      expect(feed.follower.status()).toMatchObject({ state: 'following', appliedSeq: 5, lagMs: 0 });
      feed.follower.stop();
      await feed.running;
    });

    it("counts this process's acknowledged appends as part of the stream without asking it", async () => {
      const source = new FakeFeed();
      const feed = follow(source);
      await advance();
      source.deliver([1]);
      await advance();
      source.ackedSeq = 2;
      await advance(3_250);
      expect(feed.stalls).toEqual([{ deliveredSeq: 1, streamSeq: 2 }]);
      feed.follower.stop();
      await feed.running;
    });

    it('does not start it again while the connection is down (it is not the feed that is stuck)', async () => {
      const source = new FakeFeed();
      const feed = follow(source);
      await advance();
      source.ackedSeq = 2;
      source.connected = false;
      await advance(10_000);
      expect(feed.stalls).toEqual([]);
      expect(source.starts).toEqual([1]);
      feed.follower.stop();
      await feed.running;
    });

    it('measures the lag as the time since the unapplied event was first known', async () => {
      const source = new FakeFeed();
      const feed = follow(source);
      await advance();
      source.tail = 7;
      await advance(1_000);
      await advance(1_500);
      expect(feed.follower.status().lagMs).toBeGreaterThanOrEqual(1_500);
      expect(feed.follower.status().lagMs).toBeLessThan(2_500);
      source.deliver([1, 2, 3, 4, 5, 6, 7]);
      await advance();
      expect(feed.follower.status().lagMs).toBe(0);
      feed.follower.stop();
      await feed.running;
    });
  });

  describe('when the feed cannot be started', () => {
    it('tries again after a pause, and tells onFeedError', async () => {
      const source = new FakeFeed();
      source.failingStarts = 2;
      const feed = follow(source);
      await advance();
      expect(feed.feedErrors).toHaveLength(1);
      await advance(250);
      expect(feed.feedErrors).toHaveLength(2);
      await advance(500);
      expect(source.starts).toEqual([1, 1, 1]);
      source.deliver([1]);
      await advance();
      expect(feed.flat()).toEqual([1]);
      feed.follower.stop();
      await feed.running;
    });
  });

  describe('with an asynchronous sink (a read model over the network)', () => {
    it('hands it one batch at a time, in order, and counts as applied only what it said it applied', async () => {
      const source = new FakeFeed();
      const batches: number[][] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const follower = new FeedFollower({
        source,
        fromSeq: 1,
        apply: async (messages) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 30));
          inFlight -= 1;
          // Takes at most two per batch, as a sink with a small page might.
          const taken = messages.slice(0, 2).map((m) => m.seq);
          batches.push(taken);
          return taken.length;
        },
      });
      const running = follower.run();
      await advance();
      source.deliver([1, 2, 3]);
      await advance();
      source.deliver([4]);
      await advance(30);
      expect(follower.status().appliedSeq).toBe(2);
      await advance(30);
      await advance(30);
      expect(batches).toEqual([
        [1, 2],
        [3, 4],
      ]);
      expect(maxInFlight).toBe(1);
      expect(follower.status()).toMatchObject({ appliedSeq: 4, lagMs: 0 });
      follower.stop();
      await running;
    });

    it('ends run() when the sink rejects', async () => {
      const source = new FakeFeed();
      const follower = new FeedFollower({
        source,
        fromSeq: 1,
        apply: async () => {
          throw new Error('the database is gone');
        },
      });
      const running = follower.run();
      running.catch(() => {});
      await advance();
      source.deliver([1]);
      await advance();
      await expect(running).rejects.toThrow('the database is gone');
    });
  });

  describe('when applying a batch fails', () => {
    it('ends run() with that error and applies nothing more', async () => {
      const source = new FakeFeed();
      const feed = follow(source, {
        apply: (seqs) => {
          if (seqs.includes(2)) throw new Error('disk I/O error');
        },
      });
      await advance();
      source.deliver([1]);
      await advance();
      source.deliver([2]);
      await advance();
      await expect(feed.running).rejects.toThrow('disk I/O error');
      expect(feed.follower.status()).toMatchObject({ state: 'failed', appliedSeq: 1 });
    });
  });

  describe('stop()', () => {
    it('ends run() and drops what was received but not applied', async () => {
      const source = new FakeFeed();
      source.tail = 10_000;
      const feed = follow(source);
      await advance();
      source.deliver([1, 2], () => 8);
      await advance();
      feed.follower.stop();
      await feed.running;
      await advance(100);
      expect(feed.flat()).toEqual([]);
      expect(feed.follower.status().state).toBe('stopped');
    });
  });
});

describe('FeedFollower behind the tail (real timers)', () => {
  it('fills batches up to maxBatch before applying', async () => {
    const source = new FakeFeed();
    source.tail = 1_200;
    const feed = follow(source);
    await waitUntil(() => source.starts.length === 1, { message: 'the feed started' });
    for (let from = 1; from <= 1_200; from += 100) {
      source.deliver(
        Array.from({ length: 100 }, (_, i) => from + i),
        (seq) => 1_200 - seq,
      );
    }
    await waitUntil(() => feed.flat().length === 1_200, { message: 'all applied' });
    expect(feed.flat()).toEqual(Array.from({ length: 1_200 }, (_, i) => i + 1));
    expect(feed.applied[0]).toHaveLength(500);
    feed.follower.stop();
    await feed.running;
  });
});
