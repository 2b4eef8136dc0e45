import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../../src/events/index.ts';
import type { EventStore, RawStoredMessage } from '../../../src/store/event-store.ts';
import { publishRaw, testNatsIsExternal, useTestStore, waitUntil } from '../../kit/index.ts';
import { graphEvent, reasonOf } from './store-fixtures.ts';

/** Runs store.consume in the background, collecting what it delivers until stop(). */
function collect(store: EventStore, fromSeq: number, filter?: string) {
  const abort = new AbortController();
  const received: RawStoredMessage[] = [];
  const done = (async () => {
    const opts = { signal: abort.signal };
    for await (const m of store.consume(fromSeq, { ...opts, ...(filter ? { filter } : {}) })) {
      received.push(m);
    }
  })();
  return {
    received,
    seqs: () => received.map((m) => m.seq),
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

describe('EventStore.consume', () => {
  const t = useTestStore();

  async function appendMany(graphId: string, count: number, from = 0): Promise<number[]> {
    const acks = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        t.store.append({
          subject: t.store.subjects.graph(graphId),
          event: graphEvent(graphId, from + i),
          expectedLastSubjectSeq: null,
          msgId: randomUUID(),
        }),
      ),
    );
    return acks.map((a) => a.seq).sort((a, b) => a - b);
  }

  it('delivers raw messages from the given sequence, keeps delivering live appends, and ends on abort', async () => {
    const graphId = randomUUID();
    const earlier = await appendMany(graphId, 5);
    const from = earlier[2] ?? 0;
    const feed = collect(t.store, from);
    try {
      await waitUntil(() => feed.received.length === 3, { message: 'the stored tail' });
      expect(feed.seqs()).toEqual(earlier.slice(2));
      expect(feed.received.at(-1)?.pending).toBe(0);

      const later = await appendMany(graphId, 4, 10);
      await waitUntil(() => feed.received.length === 7, { message: 'the live appends' });
      expect(feed.seqs()).toEqual([...earlier.slice(2), ...later]);
      expect(feed.received.at(-1)?.pending).toBe(0);

      const last = feed.received.at(-1);
      const decoded = last ? decodeEvent(last.data) : null;
      expect(decoded?.ok && reasonOf(decoded.event)).toBe('r13');
      expect(last?.subject).toBe(t.store.subjects.graph(graphId));
    } finally {
      await feed.stop();
    }
  });

  it("hands over this store's own appends already checked, and leaves everything else to decode", async () => {
    const graphId = randomUUID();
    const feed = collect(t.store, (await t.store.lastSeq()) + 1);
    try {
      const own = graphEvent(graphId, 1);
      const ownAck = await t.store.append({
        subject: t.store.subjects.graph(graphId),
        event: own,
        expectedLastSubjectSeq: null,
        msgId: randomUUID(),
      });
      // Another writer's publish of an event of the same subject: never handed over as checked.
      const foreign = graphEvent(graphId, 2);
      const foreignSeq = await publishRaw(t.nc, t.store.subjects.graph(graphId), JSON.stringify(foreign));
      await waitUntil(() => feed.received.length === 2, { message: 'both events' });
      const [first, second] = feed.received;
      expect(first?.seq).toBe(ownAck.seq);
      expect(first?.checked).toEqual(own);
      // The checked event is what decoding the stored bytes yields.
      const decoded = first ? decodeEvent(first.data) : null;
      expect(decoded?.ok && decoded.event).toEqual(first?.checked);
      expect(second?.seq).toBe(foreignSeq);
      expect(second?.checked).toBeUndefined();
    } finally {
      await feed.stop();
    }
  });

  it('refuses to append an event its schema refuses, and publishes nothing', async () => {
    const graphId = randomUUID();
    const tail = await t.store.lastSeq();
    const broken = { ...graphEvent(graphId), data: { reason: 42 } } as unknown as ReturnType<
      typeof graphEvent
    >;
    await expect(
      t.store.append({
        subject: t.store.subjects.graph(graphId),
        event: broken,
        expectedLastSubjectSeq: null,
        msgId: randomUUID(),
      }),
    ).rejects.toMatchObject({
      code: 'AM_ERR_INTERNAL',
      message: expect.stringMatching(/invalid GraphCancelled/),
    });
    expect(await t.store.lastSeq()).toBe(tail);
  });

  it('counts down `pending` during a replay and reaches 0 at the tail', async () => {
    const start = (await t.store.lastSeq()) + 1;
    await appendMany(randomUUID(), 50);
    const feed = collect(t.store, start);
    try {
      await waitUntil(() => feed.received.length === 50, { message: '50 messages' });
      expect(feed.received[0]?.pending).toBe(49);
      expect(feed.received.map((m) => m.pending)).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
    } finally {
      await feed.stop();
    }
  });

  it('starts from the beginning when fromSeq <= 1 and honours a filter', async () => {
    const graphId = randomUUID();
    const seqs = await appendMany(graphId, 3);
    const all = collect(t.store, 0);
    const one = collect(t.store, -5, t.store.subjects.graphTrail(graphId));
    try {
      await waitUntil(async () => all.received.length === (await t.store.lastSeq()), {
        message: 'the stream',
      });
      expect(all.received[0]?.seq).toBe(1);
      await waitUntil(() => one.received.length === 3, { message: "the graph's messages" });
      expect(one.seqs()).toEqual(seqs);
    } finally {
      await Promise.all([all.stop(), one.stop()]);
    }
  });

  it('returns at once when the signal is already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    const got: RawStoredMessage[] = [];
    for await (const m of t.store.consume(1, { signal: abort.signal })) got.push(m);
    expect(got).toEqual([]);
  });

  describe('when the reader is slower than the feed', () => {
    it('pauses the consumer at highWater and resumes from the next sequence: every event once, in order', async () => {
      const graphId = randomUUID();
      const appended = [
        ...(await appendMany(graphId, 500)),
        ...(await appendMany(graphId, 500, 500)),
        ...(await appendMany(graphId, 500, 1000)),
      ];
      const abort = new AbortController();
      const seqs: number[] = [];
      let largestBatch = 0;
      const pauses: number[] = [];
      const opts = {
        signal: abort.signal,
        filter: t.store.subjects.graphTrail(graphId),
        batch: 100,
        highWater: 300,
        onPause: (buffered: number) => pauses.push(buffered),
      };
      for await (const batch of t.store.consumeBatches(appended[0] ?? 1, opts)) {
        largestBatch = Math.max(largestBatch, batch.length);
        for (const message of batch) seqs.push(message.seq);
        // A fold much slower than the feed.
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (seqs.length >= appended.length) abort.abort();
      }
      expect(seqs).toEqual(appended);
      expect(pauses.length).toBeGreaterThan(0);
      // What waits for the reader stays near highWater (one pull may be in flight when it pauses).
      expect(largestBatch).toBeLessThanOrEqual(300 + 100);
    });
  });

  describe('when the nats-server restarts', () => {
    it.skipIf(testNatsIsExternal())(
      'resumes after the last delivered sequence: later appends still arrive',
      async () => {
        const graphId = randomUUID();
        const before = await appendMany(graphId, 3);
        const feed = collect(t.store, before[0] ?? 1, t.store.subjects.graphTrail(graphId));
        try {
          await waitUntil(() => feed.received.length === 3, { message: 'the appends before the restart' });

          await t.nats.kill();
          await t.nats.restart();
          // Publishes wait in the client's buffer until it has reconnected.
          const after = await appendMany(graphId, 3, 10);

          await waitUntil(() => feed.received.length === 6, {
            timeoutMs: 20_000,
            message: 'the appends after the restart',
          });
          expect(feed.seqs()).toEqual([...before, ...after]);
        } finally {
          await feed.stop();
        }
      },
    );
  });
});
