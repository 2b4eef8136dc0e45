import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore } from '../../../src/store/event-store.ts';
import { startTestNats, type TestNats, testNatsIsExternal } from '../../kit/index.ts';
import { graphEvent, reasonOf, taskEvent } from './store-fixtures.ts';

// nats-server 2.9 fsyncs every 60 s; a killed process (not a lost machine) keeps what it wrote because the
// data is in the OS page cache. This is the durability the README promises on a single node.
describe.skipIf(testNatsIsExternal())('EventStore durability', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await nats.connect();
    store = await EventStore.open(nc, nats.settings);
  });
  afterAll(async () => {
    await nats?.cleanup();
  });

  describe('when nats-server is SIGKILLed and restarted on the same store', () => {
    it('keeps every acknowledged append', async () => {
      const graphId = randomUUID();
      const acks = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          store.append({
            subject: store.subjects.task(graphId, `t${i}`),
            event: taskEvent(graphId, `t${i}`, i),
            expectedLastSubjectSeq: 0,
            msgId: randomUUID(),
          }),
        ),
      );
      const tail = await store.lastSeq();

      await nats.kill();
      await nats.restart();

      expect(await store.lastSeq()).toBe(tail);
      const trail = await store.readTrail(graphId);
      expect(trail.map((e) => e.seq)).toEqual(acks.map((a) => a.seq).sort((a, b) => a - b));
      expect(trail.every((e) => 'event' in e)).toBe(true);
      // The expected-sequence state came back too: a stale expectation is still refused.
      await expect(
        store.append({
          subject: store.subjects.task(graphId, 't0'),
          event: taskEvent(graphId, 't0'),
          expectedLastSubjectSeq: 0,
          msgId: randomUUID(),
        }),
      ).rejects.toMatchObject({ name: 'StreamSequenceConflict', actualSeq: acks[0]?.seq });
    });

    it('stores each append that was in flight at the crash exactly once, once the server is back', async () => {
      const graphId = randomUUID();
      const subject = store.subjects.graph(graphId);
      const pending = Array.from({ length: 200 }, (_, i) =>
        store.append({
          subject,
          event: graphEvent(graphId, i),
          expectedLastSubjectSeq: null,
          msgId: `req:${graphId}:${i}`,
          timeoutMs: 15_000,
        }),
      );
      await nats.kill();
      await nats.restart();

      const acks = await Promise.all(pending);

      const trail = await store.readTrail(graphId);
      expect(trail).toHaveLength(200);
      expect(new Set(acks.map((a) => a.seq))).toEqual(new Set(trail.map((e) => e.seq)));
      const reasons = trail.map((e) => ('event' in e ? reasonOf(e.event) : null)).sort();
      expect(reasons).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`).sort());
    });

    it('still recognises msgIDs of the duplicate window after the restart', async () => {
      const graphId = randomUUID();
      const subject = store.subjects.graph(graphId);
      const msgId = randomUUID();
      const first = await store.append({
        subject,
        event: graphEvent(graphId),
        expectedLastSubjectSeq: 0,
        msgId,
      });

      await nats.kill();
      await nats.restart();

      const retry = await store.append({
        subject,
        event: graphEvent(graphId),
        expectedLastSubjectSeq: 0,
        msgId,
      });
      expect(retry).toEqual({ seq: first.seq, duplicate: true });
    });
  });

  describe('when nats-server is stopped cleanly and restarted', () => {
    it('keeps everything and appends continue after the last sequence', async () => {
      const graphId = randomUUID();
      const subject = store.subjects.graph(graphId);
      const first = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      await nats.stop();
      await nats.restart();
      const second = await store.append({
        subject,
        event: graphEvent(graphId, 2),
        expectedLastSubjectSeq: first.seq,
        msgId: randomUUID(),
      });
      expect(second.seq).toBe(first.seq + 1);
      expect((await store.readTrail(graphId)).map((e) => e.seq)).toEqual([first.seq, second.seq]);
    });
  });
});
