import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, StreamSequenceConflict } from '../../../src/errors.ts';
import { LIMITS } from '../../../src/protocol/limits.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { startTestNats, type TestNats, testNatsIsExternal } from '../../kit/index.ts';
import { graphEvent, oversizedEvent } from './store-fixtures.ts';

describe('EventStore.append', () => {
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

  const fresh = () => {
    const graphId = randomUUID();
    return { graphId, subject: store.subjects.graph(graphId) };
  };

  describe('when the subject has no events and 0 is expected', () => {
    it('appends and answers with the new stream sequence', async () => {
      const { graphId, subject } = fresh();
      const before = await store.lastSeq();
      const result = await store.append({
        subject,
        event: graphEvent(graphId),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      expect(result).toEqual({ seq: before + 1, duplicate: false });
      expect(await store.lastSeq()).toBe(before + 1);
    });
  });

  describe('when the expected sequence is stale', () => {
    it('throws a StreamSequenceConflict naming the actual sequence', async () => {
      const { graphId, subject } = fresh();
      const first = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      const attempt = store.append({
        subject,
        event: graphEvent(graphId, 2),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      await expect(attempt).rejects.toBeInstanceOf(StreamSequenceConflict);
      await attempt.catch((error: StreamSequenceConflict) => {
        expect(error.actualSeq).toBe(first.seq);
        expect(error.expectedSeq).toBe(0);
        expect(error.subject).toBe(subject);
      });
      expect(await store.lastSeq()).toBe(first.seq);
    });

    it('appends when the expectation names the current last sequence', async () => {
      const { graphId, subject } = fresh();
      const first = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      const second = await store.append({
        subject,
        event: graphEvent(graphId, 2),
        expectedLastSubjectSeq: first.seq,
        msgId: randomUUID(),
      });
      expect(second.seq).toBeGreaterThan(first.seq);
      expect(second.duplicate).toBe(false);
    });

    it('is not confused by appends to other subjects of the same graph', async () => {
      const { graphId, subject } = fresh();
      const first = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      await store.append({
        subject: store.subjects.task(graphId, 'a'),
        event: graphEvent(graphId, 2),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      const second = await store.append({
        subject,
        event: graphEvent(graphId, 3),
        expectedLastSubjectSeq: first.seq,
        msgId: randomUUID(),
      });
      expect(second.duplicate).toBe(false);
    });
  });

  describe('when a request is retried with its own msgID', () => {
    it('appends nothing and answers with the first sequence, marked duplicate', async () => {
      const { graphId, subject } = fresh();
      const msgId = `claim:agent-1:${randomUUID()}`;
      const event = graphEvent(graphId);
      const first = await store.append({ subject, event, expectedLastSubjectSeq: 0, msgId });
      const tail = await store.lastSeq();

      const retry = await store.append({ subject, event, expectedLastSubjectSeq: 0, msgId });

      expect(retry).toEqual({ seq: first.seq, duplicate: true });
      expect(await store.lastSeq()).toBe(tail);
    });

    it('answers duplicate with the first sequence even when the expectation has gone stale', async () => {
      const { graphId, subject } = fresh();
      const msgId = randomUUID();
      const first = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId,
      });
      await store.append({
        subject,
        event: graphEvent(graphId, 2),
        expectedLastSubjectSeq: first.seq,
        msgId: randomUUID(),
      });
      const tail = await store.lastSeq();

      const retry = await store.append({
        subject,
        event: graphEvent(graphId, 1),
        expectedLastSubjectSeq: 0,
        msgId,
      });

      expect(retry).toEqual({ seq: first.seq, duplicate: true });
      expect(await store.lastSeq()).toBe(tail);
    });
  });

  describe('when the encoded event is larger than LIMITS.maxEventBytes', () => {
    it('refuses it with AM_ERR_PAYLOAD_TOO_LARGE without publishing', async () => {
      const { graphId, subject } = fresh();
      const tail = await store.lastSeq();
      const attempt = store.append({
        subject,
        event: oversizedEvent(graphId),
        expectedLastSubjectSeq: null,
        msgId: randomUUID(),
      });
      await expect(attempt).rejects.toBeInstanceOf(AppError);
      await expect(attempt).rejects.toMatchObject({
        code: 'AM_ERR_PAYLOAD_TOO_LARGE',
        details: { maxBytes: LIMITS.maxEventBytes },
      });
      expect(await store.lastSeq()).toBe(tail);
      expect(await store.getLastForSubject(subject)).toBeNull();
    });
  });

  describe('when many appends are in flight at once', () => {
    it('pipelines them: every one is acknowledged with its own sequence', async () => {
      const { graphId } = fresh();
      const before = await store.lastSeq();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          store.append({
            subject: store.subjects.task(graphId, `t${i}`),
            event: graphEvent(graphId, i),
            expectedLastSubjectSeq: 0,
            msgId: randomUUID(),
          }),
        ),
      );
      const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
      expect(new Set(seqs).size).toBe(200);
      expect(seqs[0]).toBe(before + 1);
      expect(seqs.at(-1)).toBe(before + 200);
    });
  });

  describe('when the subject is not under the store prefix', () => {
    it('throws without publishing', async () => {
      const tail = await store.lastSeq();
      await expect(
        store.append({
          subject: 'elsewhere.graph',
          event: graphEvent(randomUUID()),
          expectedLastSubjectSeq: null,
          msgId: randomUUID(),
        }),
      ).rejects.toThrow(/not under/);
      expect(await store.lastSeq()).toBe(tail);
    });
  });

  describe('when the server is down', () => {
    it.skipIf(testNatsIsExternal())(
      'throws AM_ERR_STORE_UNAVAILABLE once the timeout passes, and nothing is appended later',
      async () => {
        const { graphId, subject } = fresh();
        const tail = await store.lastSeq();
        await nats.stop();
        try {
          const attempt = store.append({
            subject,
            event: graphEvent(graphId),
            expectedLastSubjectSeq: 0,
            msgId: randomUUID(),
            timeoutMs: 300,
          });
          await expect(attempt).rejects.toBeInstanceOf(AppError);
          await expect(attempt).rejects.toMatchObject({ code: 'AM_ERR_STORE_UNAVAILABLE' });
        } finally {
          await nats.restart();
        }
        expect(await store.lastSeq()).toBe(tail);
      },
    );

    it.skipIf(testNatsIsExternal())('waits within its timeout for the server to come back', async () => {
      const { graphId, subject } = fresh();
      await nats.kill();
      const attempt = store.append({
        subject,
        event: graphEvent(graphId),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
        timeoutMs: 10_000,
      });
      await nats.restart();
      const result = await attempt;
      expect(result.duplicate).toBe(false);
      expect((await store.getLastForSubject(subject))?.seq).toBe(result.seq);
    });
  });
});
