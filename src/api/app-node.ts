import type { NatsConnection } from '@nats-io/nats-core';
import pino, { type Logger } from 'pino';
import { Projector, ReadModel, ReadyIndex } from '../projections/index.ts';
import { EventStore } from '../store/event-store.ts';
import { lockReadModelFile } from '../store/home-lock.ts';
import type { StoreSettings } from '../store/stream-settings.ts';
import type { AppContext } from './app-context.ts';
import { eventIdGenerator } from './event-ids.ts';
import { hashToken } from './principal.ts';
import { PrincipalCache } from './principal-cache.ts';

/** Candidates a claim picks from at random (see ReadyIndex `spread`). */
const CLAIM_SPREAD = 8;

export interface AppNodeOptions {
  nc: NatsConnection;
  store: StoreSettings;
  /** This process's SQLite read model file. */
  dbPath: string;
  /** The bootstrap admin token (AM_ADMIN_TOKEN), if any. */
  adminToken?: string;
  log?: Logger;
  /** Wait until the read model has caught up with the stream before resolving. Default true. */
  catchUp?: boolean;
}

export interface AppNode {
  ctx: AppContext;
  close(): Promise<void>;
}

/**
 * One AM process's core: event store, its own read model and projector, the READY index and the
 * command ports. The HTTP API, the NATS service and the manager all run on one AppNode.
 */
export async function startAppNode(opts: AppNodeOptions): Promise<AppNode> {
  const log = opts.log ?? pino({ level: 'silent' });
  // Before anything else: a second process on this file is refused, not let loose on its rows.
  const fileLock = lockReadModelFile(opts.dbPath);
  let store: EventStore;
  let readModel: ReadModel;
  try {
    store = await EventStore.open(opts.nc, opts.store);
    readModel = ReadModel.open(opts.dbPath);
  } catch (error) {
    fileLock.release();
    throw error;
  }
  // Several AM processes claim from identical indexes: a spread of a few keeps them off each other's head task.
  const readyIndex = new ReadyIndex({ spread: CLAIM_SPREAD });
  const projector = new Projector({
    readModel,
    source: store,
    subjects: store.subjects,
    readyIndex,
    onError: (error) => log.error({ err: error }, 'projector stopped'),
    onFeedStall: (stall) =>
      log.warn(stall, 'the event feed stopped delivering while the stream holds more; starting it again'),
  });
  projector.start();
  if (opts.catchUp ?? true) {
    const tail = await store.lastSeq();
    await projector.waitFor(tail, 120_000);
  }
  const ctx: AppContext = {
    store,
    readModel,
    projector,
    readyIndex,
    log,
    adminTokenHash: opts.adminToken ? hashToken(opts.adminToken) : null,
    principals: new PrincipalCache(projector),
    ports: {
      append: (req) => store.append(req),
      subjects: store.subjects,
      waitFor: (seq, timeoutMs) => projector.waitFor(seq, timeoutMs),
      clock: () => Date.now(),
      newId: eventIdGenerator(),
    },
  };
  let closed = false;
  return {
    ctx,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await projector.stop();
      } finally {
        readModel.close();
        fileLock.release();
      }
    },
  };
}
