import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.ts';
import { Readiness, type ReadinessProjector, type ReadinessSnapshot } from '../../../src/node/readiness.ts';
import type { FeedStatus } from '../../../src/projections/index.ts';

/** A projector as readiness sees it, set by hand; `probeStream()` is counted, answered by `answerProbe`. */
class StubProjector implements ReadinessProjector {
  failed = false;
  isRunning = true;
  probes = 0;
  feed: FeedStatus = {
    state: 'following',
    appliedSeq: 0,
    deliveredSeq: 0,
    streamSeq: 0,
    lagMs: 0,
    probedAt: null,
    restarts: 0,
  };

  feedStatus(): FeedStatus {
    return { ...this.feed };
  }

  probeStream(): void {
    this.probes += 1;
  }

  /** The stream answered a probe sent at `at`: it reaches `streamSeq`. */
  answerProbe(at: number, streamSeq: number): void {
    this.feed.probedAt = at;
    this.feed.streamSeq = Math.max(this.feed.streamSeq, streamSeq);
  }

  applied(seq: number): void {
    this.feed.appliedSeq = seq;
    this.feed.deliveredSeq = seq;
  }
}

function setUp() {
  let now = 1_000_000;
  let connected = true;
  const projector = new StubProjector();
  const readiness = new Readiness({
    projector,
    connected: () => connected,
    maxLagMs: 3_000,
    recoverLagMs: 1_000,
    now: () => now,
  });
  const changes: ReadinessSnapshot[] = [];
  readiness.onChange((snapshot) => changes.push(snapshot));
  return {
    projector,
    readiness,
    changes,
    tick(ms = 0) {
      now += ms;
      readiness.evaluate();
    },
    at: () => now,
    setConnected(up: boolean) {
      connected = up;
    },
  };
}

describe('Readiness', () => {
  describe('at start', () => {
    it('is not ready until the stream has answered how far it reaches and the read model got there', () => {
      const t = setUp();
      t.readiness.start();
      expect(t.projector.probes).toBe(1);
      expect(t.readiness.snapshot()).toMatchObject({ ready: false, reason: 'catching_up', catchUpTo: null });
      t.projector.answerProbe(t.at(), 500);
      t.projector.applied(200);
      t.tick(10);
      expect(t.readiness.snapshot()).toMatchObject({ ready: false, reason: 'catching_up', catchUpTo: 500 });
      expect(t.readiness.snapshot().detail).toBe('catching up with the stream: applied 200 of 500');
      t.projector.applied(500);
      t.tick(10);
      expect(t.readiness.ready).toBe(true);
      expect(t.changes.map((c) => c.ready)).toEqual([true]);
      t.readiness.stop();
    });

    it('does not take an answer to a probe sent before it started', () => {
      const t = setUp();
      t.projector.answerProbe(t.at() - 1, 10);
      t.readiness.start();
      t.projector.applied(10);
      t.tick(10);
      expect(t.readiness.snapshot().reason).toBe('catching_up');
      t.readiness.stop();
    });
  });

  function readyNode() {
    const t = setUp();
    t.readiness.start();
    t.projector.answerProbe(t.at(), 0);
    t.tick();
    expect(t.readiness.ready).toBe(true);
    return t;
  }

  describe('when NATS is unreachable', () => {
    it('is not ready, and after the reconnect catches up with what the stream got meanwhile before it is ready', () => {
      const t = readyNode();
      t.setConnected(false);
      t.tick(100);
      expect(t.readiness.snapshot()).toMatchObject({
        ready: false,
        reason: 'nats_unreachable',
        nats: 'unavailable',
      });
      t.setConnected(true);
      t.tick(100);
      expect(t.readiness.snapshot().reason).toBe('catching_up');
      expect(t.projector.probes).toBe(2);
      t.projector.answerProbe(t.at(), 40);
      t.tick(10);
      expect(t.readiness.snapshot()).toMatchObject({ reason: 'catching_up', catchUpTo: 40 });
      t.projector.applied(40);
      t.tick(10);
      expect(t.readiness.ready).toBe(true);
      t.readiness.stop();
    });
  });

  describe('lag, measured as time', () => {
    it('goes not ready past maxLagMs and ready again only under recoverLagMs (no flapping in between)', () => {
      const t = readyNode();
      t.projector.feed.lagMs = 2_900;
      t.tick();
      expect(t.readiness.ready).toBe(true);
      t.projector.feed.lagMs = 3_100;
      t.tick();
      expect(t.readiness.snapshot()).toMatchObject({ ready: false, reason: 'lagging', lagMs: 3_100 });
      t.projector.feed.lagMs = 2_000;
      t.tick();
      expect(t.readiness.snapshot().reason).toBe('lagging');
      t.projector.feed.lagMs = 900;
      t.tick();
      expect(t.readiness.ready).toBe(true);
      expect(t.changes.map((c) => c.reason)).toEqual([null, 'lagging', null]);
      t.readiness.stop();
    });

    it('is not ready while the feed is stalled, whatever the lag says', () => {
      const t = readyNode();
      t.projector.feed.state = 'stalled';
      t.tick();
      expect(t.readiness.snapshot().reason).toBe('feed_stalled');
      t.projector.feed.state = 'following';
      t.tick();
      expect(t.readiness.ready).toBe(true);
      t.readiness.stop();
    });
  });

  describe('check()', () => {
    it('throws AM_ERR_NOT_READY with a retry hint while not ready, and nothing when ready', () => {
      const t = setUp();
      t.readiness.start();
      let thrown: unknown;
      try {
        t.readiness.check();
      } catch (error) {
        thrown = error;
      }
      expect(isAppError(thrown) && thrown.code).toBe('AM_ERR_NOT_READY');
      expect(isAppError(thrown) && thrown.statusCode).toBe(503);
      expect(isAppError(thrown) && thrown.details).toMatchObject({ reason: 'catching_up', retryAfterSec: 1 });
      t.projector.answerProbe(t.at(), 0);
      t.tick();
      expect(() => t.readiness.check()).not.toThrow();
      t.readiness.stop();
    });
  });

  describe('when the projector failed for good', () => {
    it('is not ready, and whenReady() rejects rather than wait forever', async () => {
      const t = setUp();
      t.readiness.start();
      const waiting = t.readiness.whenReady();
      t.projector.failed = true;
      t.tick();
      await expect(waiting).rejects.toMatchObject({ code: 'AM_ERR_NOT_READY' });
      expect(t.readiness.snapshot()).toMatchObject({ reason: 'projector_failed', projector: 'failed' });
      t.readiness.stop();
    });
  });

  describe('stop()', () => {
    it('is not ready from then on', () => {
      const t = readyNode();
      t.readiness.stop();
      expect(t.readiness.snapshot()).toMatchObject({ ready: false, reason: 'stopping' });
    });
  });
});
