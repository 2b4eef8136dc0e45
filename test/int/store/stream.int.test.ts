import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../../src/events/index.ts';
import { ensureStream, streamConfig } from '../../../src/store/ensure-stream.ts';
import { EventStore } from '../../../src/store/event-store.ts';
import type { StoreSettings } from '../../../src/store/stream-settings.ts';
import { startTestNats, type TestNats } from '../../kit/index.ts';
import { graphEvent } from './store-fixtures.ts';

const NANOS_PER_MS = 1_000_000;

describe('ensureStream', () => {
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await nats.connect();
  });
  const created: string[] = [];
  afterAll(async () => {
    // The kit removes only its own stream from a shared NATS_URL server.
    if (nats?.external) {
      const jsm = await jetstreamManager(nc);
      await Promise.allSettled(created.map((name) => jsm.streams.delete(name)));
    }
    await nats?.cleanup();
  });

  // Each test gets its own stream so they can run against a shared NATS_URL server too.
  const uniqueSettings = (): StoreSettings => {
    const id = randomUUID().slice(0, 8);
    created.push(`${nats.streamName}_${id}`);
    return {
      streamName: `${nats.streamName}_${id}`,
      subjectPrefix: `${nats.subjectPrefix}${id}`,
      replicas: 1,
    };
  };

  describe('on a server without the stream', () => {
    it('creates an append-only file stream that keeps everything', async () => {
      const settings = uniqueSettings();
      const { config } = await ensureStream(nc, settings);
      expect(config.subjects).toEqual([`${settings.subjectPrefix}.>`]);
      expect(config.storage).toBe(StorageType.File);
      expect(config.deny_delete).toBe(true);
      expect(config.deny_purge).toBe(true);
      expect(config.allow_direct).toBe(true);
      expect(config.max_age).toBe(0);
      expect(config.max_msgs_per_subject).toBe(-1);
      expect(config.max_msgs).toBe(-1);
      expect(config.max_bytes).toBe(-1);
      expect(config.discard).toBe('old');
      expect(config.num_replicas).toBe(1);
      expect(config.duplicate_window).toBe(2 * 60 * 1000 * NANOS_PER_MS);
    });

    it('refuses to delete or purge stored events', async () => {
      const settings = uniqueSettings();
      const store = await EventStore.open(nc, settings);
      const graphId = randomUUID();
      const { seq } = await store.append({
        subject: store.subjects.graph(graphId),
        event: graphEvent(graphId),
        expectedLastSubjectSeq: 0,
        msgId: randomUUID(),
      });
      const jsm = await jetstreamManager(nc);
      await expect(jsm.streams.deleteMessage(settings.streamName, seq)).rejects.toThrow();
      await expect(jsm.streams.purge(settings.streamName)).rejects.toThrow();
      expect(await store.lastSeq()).toBe(seq);
      expect((await store.getLastForSubject(store.subjects.graph(graphId)))?.seq).toBe(seq);
    });
  });

  describe('when the stream already exists', () => {
    it('is idempotent: a second call changes nothing', async () => {
      const settings = uniqueSettings();
      const first = await ensureStream(nc, settings);
      const second = await ensureStream(nc, settings);
      expect(second.created).toBe(first.created);
      expect(second.config).toEqual(first.config);
    });

    it('puts drifted settings back (duplicate window, direct gets, max age) and keeps the data', async () => {
      const settings = uniqueSettings();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        ...streamConfig(settings),
        allow_direct: false,
        duplicate_window: 10_000 * NANOS_PER_MS,
        max_age: 3_600_000 * NANOS_PER_MS,
      });
      const graphId = randomUUID();
      await jetstream(nc).publish(
        `${settings.subjectPrefix}.${graphId}.graph`,
        encodeEvent(graphEvent(graphId)),
      );

      const { config, state } = await ensureStream(nc, settings);

      expect(config.allow_direct).toBe(true);
      expect(config.max_age).toBe(0);
      expect(config.duplicate_window).toBe(2 * 60 * 1000 * NANOS_PER_MS);
      expect(state.messages).toBe(1);
    });

    it('survives several processes ensuring it at the same time', async () => {
      const settings = uniqueSettings();
      const infos = await Promise.all([1, 2, 3].map(() => ensureStream(nc, settings)));
      expect(new Set(infos.map((i) => i.created)).size).toBe(1);
    });
  });
});
