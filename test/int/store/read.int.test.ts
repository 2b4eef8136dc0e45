import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore, type TrailEntry } from '../../../src/store/event-store.ts';
import { startTestNats, type TestNats, testNatsIsExternal } from '../../kit/index.ts';
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

  /**
   * `perGraph` events of each of `graphs` graphs, appended round-robin (one event of each graph in turn) on
   * the graph's graph, task and progress subjects: every graph's range of sequences is interleaved.
   */
  async function interleavedGraphs(graphs: number, perGraph: number) {
    const ids = Array.from({ length: graphs }, () => randomUUID());
    const seqs = new Map<string, number[]>(ids.map((id) => [id, []]));
    const s = store.subjects;
    for (let i = 0; i < perGraph; i++) {
      for (const id of ids) {
        const subject = [s.graph(id), s.task(id, 'a'), s.progress(id, 'a'), s.task(id, `t${i}`)][i % 4]!;
        const event = i % 4 === 0 ? graphEvent(id, i) : taskEvent(id, 'a', i);
        const { seq } = await store.append({
          subject,
          event,
          expectedLastSubjectSeq: null,
          msgId: randomUUID(),
        });
        seqs.get(id)?.push(seq);
      }
    }
    return { ids, seqs: (id: string) => seqs.get(id) ?? [] };
  }

  /** Runs a read and how long it took. */
  async function timed<T>(read: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const started = performance.now();
    const value = await read();
    return { value, ms: performance.now() - started };
  }

  /** A read that waits for messages that do not exist takes the 5 s fetch timeout: this is well under it. */
  const QUICK_MS = 2000;

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

    describe('when fromSeq is inside the graph and other graphs are interleaved', () => {
      // nats-server 2.9 miscounts num_pending of a filtered consumer that starts in the middle of the
      // filtered messages (too many or too few): a read must not depend on that count.
      it("returns exactly the graph's events from fromSeq, in order, without waiting", async () => {
        const { ids, seqs } = await interleavedGraphs(3, 30);
        const mine = seqs(ids[1]!);
        let slowest = 0;
        // Every sequence from the graph's second event to past its last, its own and the other graphs'.
        for (let fromSeq = mine[1]!; fromSeq <= mine.at(-1)! + 2; fromSeq++) {
          const { value: trail, ms } = await timed(() => store.readTrail(ids[1]!, { fromSeq }));
          expect(
            trail.map((e) => e.seq),
            `fromSeq ${fromSeq}`,
          ).toEqual(mine.filter((seq) => seq >= fromSeq));
          expect(ms, `fromSeq ${fromSeq} took ${Math.round(ms)} ms`).toBeLessThan(QUICK_MS);
          slowest = Math.max(slowest, ms);
        }
        expect(slowest).toBeLessThan(QUICK_MS);
      });

      it('honours limit, smaller or larger than what is left', async () => {
        const { ids, seqs } = await interleavedGraphs(3, 30);
        const mine = seqs(ids[0]!);
        for (const fromSeq of [mine[3]!, mine[10]! + 1, mine[17]!, mine[28]! - 1]) {
          const left = mine.filter((seq) => seq >= fromSeq);
          for (const limit of [1, 5, left.length, left.length + 1, 1000]) {
            const { value: trail, ms } = await timed(() => store.readTrail(ids[0]!, { fromSeq, limit }));
            expect(
              trail.map((e) => e.seq),
              `fromSeq ${fromSeq} limit ${limit}`,
            ).toEqual(left.slice(0, limit));
            expect(ms, `fromSeq ${fromSeq} limit ${limit} took ${Math.round(ms)} ms`).toBeLessThan(QUICK_MS);
          }
        }
      });

      it('stops at the tail it started at while the graph keeps growing', async () => {
        const { ids, seqs } = await interleavedGraphs(2, 30);
        const [id, other] = [ids[0]!, ids[1]!];
        const before = seqs(id);
        const fromSeq = before[12]!;
        const appended: number[] = [];
        const growing = (async () => {
          for (let i = 0; i < 40; i++) {
            const subject = i % 2 === 0 ? store.subjects.task(id, 'late') : store.subjects.graph(other);
            const event = i % 2 === 0 ? taskEvent(id, 'late', 200 + i) : graphEvent(other, 200 + i);
            const { seq } = await store.append({
              subject,
              event,
              expectedLastSubjectSeq: null,
              msgId: randomUUID(),
            });
            if (i % 2 === 0) appended.push(seq);
          }
        })();
        const reads = await Promise.all(
          Array.from({ length: 5 }, () => timed(() => store.readTrail(id, { fromSeq }))),
        );
        await growing;
        for (const { value: trail, ms } of reads) {
          const got = trail.map((e) => e.seq);
          // Everything there before the read, then a prefix of what was appended during it.
          const expected = before.filter((seq) => seq >= fromSeq);
          expect(got.slice(0, expected.length)).toEqual(expected);
          expect(got.slice(expected.length)).toEqual(appended.slice(0, got.length - expected.length));
          expect(ms).toBeLessThan(QUICK_MS);
        }
      });
    });

    describe('when the server is down', () => {
      it.skipIf(testNatsIsExternal())(
        'throws AM_ERR_STORE_UNAVAILABLE, and reads again once it is back',
        async () => {
          const { ids, seqs } = await interleavedGraphs(2, 10);
          const mine = seqs(ids[0]!);
          await nats.stop();
          try {
            await expect(store.readTrail(ids[0]!, { fromSeq: mine[4]! })).rejects.toMatchObject({
              code: 'AM_ERR_STORE_UNAVAILABLE',
            });
          } finally {
            await nats.restart();
          }
          // The restarted server rebuilt its per-subject state from disk.
          for (const fromSeq of [mine[0]!, mine[4]!, mine[4]! + 1, mine[9]!]) {
            const { value: trail, ms } = await timed(() => store.readTrail(ids[0]!, { fromSeq }));
            expect(trail.map((e) => e.seq)).toEqual(mine.filter((seq) => seq >= fromSeq));
            expect(ms).toBeLessThan(QUICK_MS);
          }
        },
      );
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

    it('reads from the middle of the stream or of a filter, up to the tail, without waiting', async () => {
      const { ids, seqs } = await interleavedGraphs(3, 20);
      const everything = ids.flatMap(seqs).sort((a, b) => a - b);
      const mine = seqs(ids[2]!);
      for (const fromSeq of [everything[7]!, everything[31]!, everything.at(-1)!]) {
        const whole = await timed(() => store.readAll({ fromSeq }));
        expect(whole.value.map((e) => e.seq)).toEqual(everything.filter((seq) => seq >= fromSeq));
        expect(whole.ms).toBeLessThan(QUICK_MS);
        const one = await timed(() => store.readAll({ fromSeq, filter: store.subjects.graphTrail(ids[2]!) }));
        expect(one.value.map((e) => e.seq)).toEqual(mine.filter((seq) => seq >= fromSeq));
        expect(one.ms).toBeLessThan(QUICK_MS);
      }
      expect(await store.readAll({ fromSeq: everything.at(-1)! + 1 })).toEqual([]);
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
