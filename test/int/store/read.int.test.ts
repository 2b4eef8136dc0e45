import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore, type TrailEntry } from '../../../src/store/event-store.ts';
import { startTestNats, type TestNats } from '../../kit/index.ts';
import { graphEvent, reasonOf, taskEvent } from './store-fixtures.ts';

describe('EventStore reads', () => {
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

  /** Interleaves appends of two graphs on graph, task and progress subjects. */
  async function twoGraphs() {
    const mine = randomUUID();
    const other = randomUUID();
    const s = store.subjects;
    const plan: [string, ReturnType<typeof graphEvent>][] = [
      [s.graph(mine), graphEvent(mine, 1)],
      [s.graph(other), graphEvent(other, 100)],
      [s.task(mine, 'a'), taskEvent(mine, 'a', 2)],
      [s.progress(mine, 'a'), taskEvent(mine, 'a', 3)],
      [s.task(other, 'a'), taskEvent(other, 'a', 101)],
      [s.task(mine, 'b'), taskEvent(mine, 'b', 4)],
    ];
    const seqs: number[] = [];
    for (const [subject, event] of plan) {
      seqs.push(
        (await store.append({ subject, event, expectedLastSubjectSeq: null, msgId: randomUUID() })).seq,
      );
    }
    return { mine, other, seqs };
  }

  const reasons = (entries: TrailEntry[]) => entries.map((e) => ('event' in e ? reasonOf(e.event) : e.error));

  describe('readTrail', () => {
    it("returns only the graph's events, in stream order, with subjects and stored times", async () => {
      const { mine, seqs } = await twoGraphs();
      const trail = await store.readTrail(mine);
      expect(reasons(trail)).toEqual(['r1', 't2', 't3', 't4']);
      expect(trail.map((e) => e.seq)).toEqual([seqs[0], seqs[2], seqs[3], seqs[5]]);
      expect(trail[1]?.subject).toBe(store.subjects.task(mine, 'a'));
      for (const entry of trail) expect(Number.isNaN(Date.parse(entry.at))).toBe(false);
    });

    it('honours fromSeq and limit', async () => {
      const { mine, seqs } = await twoGraphs();
      expect(reasons(await store.readTrail(mine, { fromSeq: seqs[2] }))).toEqual(['t2', 't3', 't4']);
      expect(reasons(await store.readTrail(mine, { limit: 2 }))).toEqual(['r1', 't2']);
      expect(await store.readTrail(mine, { fromSeq: (seqs[5] ?? 0) + 1 })).toEqual([]);
    });

    it('returns an empty trail for a graph without events', async () => {
      expect(await store.readTrail(randomUUID())).toEqual([]);
    });

    describe('when a stored message is not a readable event', () => {
      it('turns it into an error entry and goes on', async () => {
        const graphId = randomUUID();
        await store.append({
          subject: store.subjects.graph(graphId),
          event: graphEvent(graphId, 1),
          expectedLastSubjectSeq: 0,
          msgId: randomUUID(),
        });
        const bad = await jetstream(nc).publish(store.subjects.task(graphId, 'x'), 'not json');
        await store.append({
          subject: store.subjects.graph(graphId),
          event: graphEvent(graphId, 2),
          expectedLastSubjectSeq: null,
          msgId: randomUUID(),
        });

        const trail = await store.readTrail(graphId);

        expect(trail).toHaveLength(3);
        const broken = trail[1];
        expect(broken).toMatchObject({ seq: bad.seq, subject: store.subjects.task(graphId, 'x') });
        expect(broken && 'error' in broken ? broken.error : '').toMatch(/not JSON/);
        expect(reasons([trail[0]!, trail[2]!])).toEqual(['r1', 'r2']);
      });
    });
  });

  describe('readAll', () => {
    it('reads the whole stream from a sequence, or one filter subject', async () => {
      const { mine, other, seqs } = await twoGraphs();
      const fromFirst = await store.readAll({ fromSeq: seqs[0] });
      expect(fromFirst.map((e) => e.seq)).toEqual(seqs);
      expect(reasons(await store.readAll({ filter: store.subjects.graphTrail(other) }))).toEqual([
        'r100',
        't101',
      ]);
      expect(reasons(await store.readAll({ filter: store.subjects.graph(mine) }))).toEqual(['r1']);
      expect(await store.readAll({ fromSeq: seqs[0], limit: 3 })).toHaveLength(3);
    });
  });

  describe('getLastForSubject', () => {
    it('returns the last event of the subject with its sequence, or null when there is none', async () => {
      const { mine, seqs } = await twoGraphs();
      const last = await store.getLastForSubject(store.subjects.task(mine, 'a'));
      expect(last?.seq).toBe(seqs[2]);
      expect(last && reasonOf(last.event)).toBe('t2');
      expect(await store.getLastForSubject(store.subjects.task(mine, 'zzz'))).toBeNull();
    });
  });
});
