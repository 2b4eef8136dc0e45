import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Projector, ReadModel } from '../../../src/projections/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { TrailBuilder } from '../../fixtures/trail-builder.ts';
import { makeTempDir, startTestNats, type TestNats, waitUntil } from '../../kit/index.ts';
import { dumpTables } from './dump-tables.ts';

const FIXTURE = join(import.meta.dirname, '../../fixtures/projector-process.ts');

describe('A projector process SIGKILLed mid-batch', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    store = await EventStore.open(nc, nats.settings);
    dir = makeTempDir('am-projector-crash');
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await nc?.drain();
    await nats?.cleanup();
  });

  function spawnProjector(dbPath: string): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: {
        ...process.env,
        NATS_URL: nats.url,
        AM_STREAM: nats.settings.streamName,
        AM_PREFIX: nats.settings.subjectPrefix,
        AM_DB: dbPath,
        AM_MAX_BATCH: '40',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return child;
  }

  function checkpointOf(dbPath: string): number {
    try {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT last_seq FROM checkpoints WHERE projector = 'main'").get() as
          | { last_seq: number }
          | undefined;
        return row?.last_seq ?? 0;
      } finally {
        db.close();
      }
    } catch {
      return 0;
    }
  }

  it('resumes from its checkpoint without skipping or re-applying an event', async () => {
    // 30 graphs × 60 tasks, each claimed, progressed and completed: ~5.4k events.
    let expectedCompletions = 0;
    for (let g = 0; g < 30; g++) {
      const b = new TrailBuilder(store.subjects, crypto.randomUUID(), { baseSeq: await store.lastSeq() });
      const tasks = Array.from({ length: 60 }, (_, i) => ({
        id: `t${i}`,
        title: `T${i}`,
        instructions: 'x',
      }));
      b.submit('crash test', tasks);
      for (const task of tasks) {
        const token = b.claim(task.id, 'w1');
        b.progress(task.id, 'w1', token, 0, {
          thought: 'step',
          action: { type: 'tool', name: 'noop', input: {} },
        });
        b.complete(task.id, 'w1', token, `out ${task.id}`);
        expectedCompletions += 1;
      }
      await Promise.all(
        b.entries.map((e) =>
          store.append({
            subject: e.subject,
            event: e.event,
            expectedLastSubjectSeq: e.expectedSeq,
            msgId: e.msgId,
          }),
        ),
      );
    }
    const tail = await store.lastSeq();
    const dbPath = join(dir, 'crash.sqlite');

    const kills: number[] = [];
    for (let round = 0; round < 3; round++) {
      const child = spawnProjector(dbPath);
      const before = checkpointOf(dbPath);
      // Kill once it has made progress in this round but before it reaches the tail.
      await waitUntil(() => checkpointOf(dbPath) > before || child.exitCode !== null, {
        timeoutMs: 30_000,
        intervalMs: 2,
        message: 'projector made no progress',
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      kills.push(checkpointOf(dbPath));
    }
    expect(kills.some((seq) => seq < tail)).toBe(true);

    const last = spawnProjector(dbPath);
    await waitUntil(() => checkpointOf(dbPath) >= tail, {
      timeoutMs: 60_000,
      intervalMs: 20,
      message: 'never caught up',
    });
    last.kill('SIGTERM');
    await once(last, 'exit');

    const resumed = ReadModel.open(dbPath);
    const counts = resumed.db
      .prepare(
        "SELECT (SELECT COUNT(*) FROM results WHERE status = 'completed') AS results, (SELECT COUNT(*) FROM progress) AS progress",
      )
      .get() as { results: number; progress: number };
    expect(counts).toEqual({ results: expectedCompletions, progress: expectedCompletions });
    expect(resumed.skipped.all()).toEqual([]);

    // A fresh replay from sequence 1 must give the very same rows.
    const fresh = ReadModel.open(join(dir, 'fresh.sqlite'));
    const projector = new Projector({ readModel: fresh, source: store, subjects: store.subjects });
    projector.start();
    expect(await projector.waitFor(tail, 30_000)).toBe(true);
    await projector.stop();
    expect(dumpTables(resumed.db)).toEqual(dumpTables(fresh.db));
    resumed.close();
    fresh.close();
  });
});
