import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProjectionSource, ReadModel, rebuildReadModel } from '../../../src/projections/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import { makeTempDir, startTestNats, type TestNats } from '../../kit/index.ts';
import { buildSeedScenario } from './seed-scenario.ts';

/** `rebuildReadModel`: what `am projections rebuild` and bench:replay run. */
describe('rebuildReadModel over a real nats-server', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let store: EventStore;
  let dir: string;
  let scenario: ReturnType<typeof buildSeedScenario>;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    store = await EventStore.open(nc, nats.settings);
    dir = makeTempDir('am-rebuild');
    scenario = buildSeedScenario(store.subjects, 0);
    for (const entry of scenario.builder.entries) {
      await store.append({
        subject: entry.subject,
        event: entry.event,
        expectedLastSubjectSeq: entry.expectedSeq,
        msgId: entry.msgId,
      });
    }
  });

  afterAll(async () => {
    await nc?.drain();
    await nats?.cleanup();
  });

  it('replays every event into the file, closes it, and reports the count', async () => {
    const path = join(dir, 'full.sqlite');
    const progress: number[] = [];
    const { events } = await rebuildReadModel(store, store.subjects, path, {
      onProgress: (applied) => progress.push(applied),
    });
    const tail = await store.lastSeq();
    expect(events).toBe(tail);
    expect(progress.at(-1)).toBe(tail);
    const readModel = ReadModel.open(path);
    try {
      expect(readModel.checkpoint.read()).toBe(tail);
      expect(readModel.taskGraph(scenario.graphId)).toEqual(scenario.expected);
      expect(readModel.skipped.all()).toEqual([]);
    } finally {
      readModel.close();
    }
  });

  it('rejects when the stream fails under it, instead of waiting for its target forever', async () => {
    const failing: ProjectionSource = {
      lastSeq: () => store.lastSeq(),
      async *consumeBatches(fromSeq, opts) {
        for await (const message of store.consume(fromSeq, opts)) {
          if (message.seq >= 3) throw new Error('the stream went away');
          yield [message];
        }
      },
    };
    await expect(rebuildReadModel(failing, store.subjects, join(dir, 'failed.sqlite'))).rejects.toThrow(
      'the stream went away',
    );
  });
});
