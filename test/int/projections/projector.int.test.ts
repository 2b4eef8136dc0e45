import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../../src/events/index.ts';
import { Projector, ReadModel, ReadyIndex } from '../../../src/projections/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { TrailBuilder } from '../../fixtures/trail-builder.ts';
import { makeTempDir, publishRaw, startTestNats, type TestNats } from '../../kit/index.ts';
import { dumpTables } from './dump-tables.ts';
import { buildSeedScenario } from './seed-scenario.ts';

describe('Projector over a real nats-server', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;
  let dir: string;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    store = await EventStore.open(nc, nats.settings);
    dir = makeTempDir('am-projector');
  });

  afterAll(async () => {
    await nc?.drain();
    await nats?.cleanup();
  });

  async function appendAll(
    entries: ReturnType<typeof buildSeedScenario>['builder']['entries'],
  ): Promise<void> {
    for (const entry of entries) {
      const ack = await store.append({
        subject: entry.subject,
        event: entry.event,
        expectedLastSubjectSeq: entry.expectedSeq,
        msgId: entry.msgId,
      });
      expect(ack.seq).toBe(entry.seq);
    }
  }

  function startProjector(
    path: string,
    readyIndex = new ReadyIndex(),
    opts: { commitIntervalMs?: number } = {},
  ) {
    const readModel = ReadModel.open(path);
    const errors: unknown[] = [];
    const projector = new Projector({
      readModel,
      source: store,
      subjects: store.subjects,
      readyIndex,
      onError: (error) => errors.push(error),
      ...opts,
    });
    projector.start();
    return { readModel, projector, readyIndex, errors };
  }

  describe('persist and retrieve a full TaskGraph', () => {
    it('reads back from the SQLite file exactly the graph the events describe', async () => {
      const scenario = buildSeedScenario(store.subjects, await store.lastSeq());
      const path = join(dir, 'seed.sqlite');
      const { readModel, projector, errors } = startProjector(path);
      await appendAll(scenario.builder.entries);
      expect(await projector.waitFor(scenario.builder.lastSeq, 10_000)).toBe(true);
      await projector.stop();
      readModel.close();

      const reopened = ReadModel.open(path);
      try {
        expect(reopened.taskGraph(scenario.graphId)).toEqual(scenario.expected);
        expect(reopened.progress.stepsOf(scenario.graphId, 'b')).toHaveLength(1);
        expect(reopened.skipped.all()).toEqual([]);
      } finally {
        reopened.close();
      }
      expect(errors).toEqual([]);
    });
  });

  describe('the commit window', () => {
    it('shows a batch to its own connection at once and to other connections at the commit', async () => {
      const scenario = buildSeedScenario(store.subjects, await store.lastSeq());
      const path = join(dir, 'window.sqlite');
      const { readModel, projector, errors } = startProjector(path, new ReadyIndex(), {
        commitIntervalMs: 400,
      });
      const outside = new Database(path, { readonly: true, fileMustExist: true });
      const committedSeq = () =>
        (
          outside.prepare("SELECT last_seq FROM checkpoints WHERE projector = 'main'").get() as
            | { last_seq: number }
            | undefined
        )?.last_seq ?? 0;
      try {
        await appendAll(scenario.builder.entries);
        const last = scenario.builder.lastSeq;
        expect(await projector.waitFor(last, 10_000)).toBe(true);
        // This process reads what it applied; the file has not committed it yet.
        expect(readModel.checkpoint.read()).toBe(last);
        expect(readModel.taskGraph(scenario.graphId)).toEqual(scenario.expected);
        expect(committedSeq()).toBeLessThan(last);
        await expect.poll(committedSeq, { timeout: 5_000, interval: 20 }).toBe(last);
        // A batch applied inside a new window is committed by stop(), not left to roll back at close.
        const next = buildSeedScenario(store.subjects, await store.lastSeq());
        await appendAll(next.builder.entries);
        expect(await projector.waitFor(next.builder.lastSeq, 10_000)).toBe(true);
        expect(committedSeq()).toBeLessThan(next.builder.lastSeq);
        await projector.stop();
        expect(committedSeq()).toBe(next.builder.lastSeq);
      } finally {
        outside.close();
        readModel.close();
      }
      expect(errors).toEqual([]);
    });
  });

  describe('rebuild()', () => {
    it('yields tables identical row by row to the incrementally built ones', async () => {
      // Several graphs, including one whose claims race (a void claim) and an unreadable message.
      for (let i = 0; i < 3; i++)
        await appendAll(buildSeedScenario(store.subjects, await store.lastSeq()).builder.entries);
      const racing = new TrailBuilder(store.subjects, crypto.randomUUID(), {
        baseSeq: await store.lastSeq(),
      });
      racing.submit('race', [{ id: 'only', title: 'Only', instructions: 'do it' }]);
      racing.claim('only', 'w1');
      await appendAll(racing.entries);
      await nc.publish(store.subjects.graph(racing.graphId), new TextEncoder().encode('not json'));
      const jsAck = await store.append({
        subject: store.subjects.task(racing.graphId, 'only'),
        event: racing.add(
          { kind: 'task', graphId: racing.graphId, taskId: 'only' },
          {
            type: 'TaskClaimed',
            graphId: racing.graphId,
            taskId: 'only',
            data: { agentId: 'w2', requestId: 'r2', attempt: 1, cycle: 1, leaseUntil: 1 },
          },
        ).event,
        expectedLastSubjectSeq: null,
        msgId: 'second-claim',
      });

      const path = join(dir, 'rebuild.sqlite');
      const live = startProjector(path);
      const tail = await store.lastSeq();
      expect(await live.projector.waitFor(tail, 10_000)).toBe(true);
      const incremental = dumpTables(live.readModel.db);
      const indexesBefore = indexDdl(live.readModel.db);
      const { events } = await live.projector.rebuild();
      expect(events).toBe(tail);
      const rebuilt = dumpTables(live.readModel.db);
      expect(rebuilt).toEqual(incremental);
      // The in-memory claim index answers exactly for the CLAIMED rows, after the replay as before it.
      const claimedRows = live.readModel.db
        .prepare(
          "SELECT graph_id, id, assignee, claim_request_id, claim_token FROM tasks WHERE status = 'CLAIMED'",
        )
        .all() as Array<{
        graph_id: string;
        id: string;
        assignee: string;
        claim_request_id: string;
        claim_token: string;
      }>;
      expect(claimedRows.length).toBeGreaterThan(0);
      expect(live.projector.claims.size).toBe(claimedRows.length);
      for (const row of claimedRows) {
        const ref = { graph_id: row.graph_id, id: row.id };
        expect(live.projector.claims.byToken(row.claim_token)).toEqual(ref);
        expect(live.projector.claims.byRequest(row.assignee, row.claim_request_id)).toEqual(ref);
      }
      // The replay builds the secondary indexes once at the end; they are all back, as they were.
      expect(indexDdl(live.readModel.db)).toEqual(indexesBefore);
      expect(indexesBefore.length).toBeGreaterThanOrEqual(6);
      // The second claim was void by rule and is on record as such; the first holder keeps the task.
      const skipped = live.readModel.skipped.all();
      expect(skipped).toContainEqual({
        seq: jsAck.seq,
        subject: store.subjects.task(racing.graphId, 'only'),
        type: 'TaskClaimed',
        reason: 'void_claim',
      });
      expect(live.readModel.tasks.row(racing.graphId, 'only')?.assignee).toBe('w1');
      await live.projector.stop();
      live.readModel.close();
      expect(live.errors).toEqual([]);
    });
  });

  describe('a rebuild that dies before it caught up', () => {
    it('leaves no index missing: the next open builds the ones it had dropped', () => {
      const path = join(dir, 'interrupted.sqlite');
      const first = ReadModel.open(path);
      const expected = indexDdl(first.db);
      expect(first.beginBulkLoad()).toBe(expected.length);
      expect(indexDdl(first.db)).toEqual([]);
      first.close();
      const reopened = ReadModel.open(path);
      expect(indexDdl(reopened.db)).toEqual(expected);
      expect(reopened.db.prepare('SELECT COUNT(*) AS n FROM deferred_indexes').get()).toEqual({ n: 0 });
      reopened.close();
    });
  });

  describe('when a stored event is malformed', () => {
    it('records it as skipped, advances the checkpoint and the subject last_seq, and keeps projecting', async () => {
      const b = new TrailBuilder(store.subjects, crypto.randomUUID(), { baseSeq: await store.lastSeq() });
      b.submit('malformed', [{ id: 't', title: 'T', instructions: 'x' }]);
      await appendAll(b.entries);
      const taskSubject = store.subjects.task(b.graphId, 't');
      // A TaskClaimed missing its data, then plain garbage, both on the task's subject, published raw
      // (store.append refuses an event its schema refuses; another writer might not).
      const bad1Seq = await publishRaw(
        nc,
        taskSubject,
        JSON.stringify({
          type: 'TaskClaimed',
          v: 1,
          id: crypto.randomUUID(),
          graphId: b.graphId,
          taskId: 't',
        }),
      );
      const bad2Seq = await publishRaw(nc, taskSubject, '{"type":');
      const path = join(dir, 'malformed.sqlite');
      const { readModel, projector, errors } = startProjector(path);
      expect(await projector.waitFor(bad2Seq, 10_000)).toBe(true);
      const reasons = readModel.skipped.all().filter((s) => s.seq === bad1Seq || s.seq === bad2Seq);
      expect(reasons.map((r) => r.seq)).toEqual([bad1Seq, bad2Seq]);
      expect(readModel.checkpoint.read()).toBeGreaterThanOrEqual(bad2Seq);
      expect(readModel.tasks.row(b.graphId, 't')?.last_seq).toBe(bad2Seq);
      expect(projector.graphState(b.graphId)?.tasks.get('t')?.lastSeq).toBe(bad2Seq);
      // And the next good event still applies.
      const next = await store.append({
        subject: taskSubject,
        event: encodeAndBack(b, 't'),
        expectedLastSubjectSeq: bad2Seq,
        msgId: 'good-after-bad',
      });
      expect(await projector.waitFor(next.seq, 10_000)).toBe(true);
      expect(readModel.tasks.row(b.graphId, 't')?.status).toBe('CLAIMED');
      await projector.stop();
      readModel.close();
      expect(errors).toEqual([]);
    });
  });
});

function encodeAndBack(b: TrailBuilder, taskId: string) {
  const entry = b.add(
    { kind: 'task', graphId: b.graphId, taskId },
    {
      type: 'TaskClaimed',
      graphId: b.graphId,
      taskId,
      data: { agentId: 'w9', requestId: 'r9', attempt: 1, cycle: 1, leaseUntil: Date.now() + 60_000 },
    },
  );
  // Round-trip through the wire encoding so the test exercises what the store writes.
  return JSON.parse(new TextDecoder().decode(encodeEvent(entry.event)));
}

/** Every secondary index's DDL, sorted: what a rebuild must leave exactly as it found it. */
function indexDdl(db: ReadModel['db']): string[] {
  return (
    db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`).all() as Array<{
      sql: string;
    }>
  )
    .map((row) => row.sql)
    .sort();
}
