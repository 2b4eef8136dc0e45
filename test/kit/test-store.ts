import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { EventStore } from '../../src/store/event-store.ts';
import { startTestNats, type TestNats } from './nats.ts';

export interface TestStore {
  readonly nats: TestNats;
  readonly nc: NatsConnection;
  readonly store: EventStore;
}

/**
 * A private nats-server (or NATS_URL's, see startTestNats), a connection and an EventStore over it for the
 * enclosing describe block: started in beforeAll, cleaned up in afterAll. Read the fields inside tests.
 */
export function useTestStore(): TestStore {
  let started: TestStore | null = null;
  beforeAll(async () => {
    const nats = await startTestNats();
    const nc = await nats.connect();
    started = { nats, nc, store: await EventStore.open(nc, nats.settings) };
  });
  afterAll(async () => {
    await started?.nats.cleanup();
  });
  const get = (): TestStore => {
    if (started === null) throw new Error('useTestStore(): read its fields inside a test, after beforeAll');
    return started;
  };
  return {
    get nats() {
      return get().nats;
    },
    get nc() {
      return get().nc;
    },
    get store() {
      return get().store;
    },
  };
}
