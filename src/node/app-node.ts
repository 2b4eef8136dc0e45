import type { NatsConnection } from '@nats-io/nats-core';
import pino, { type Logger } from 'pino';
import type { CommandPorts } from '../commands/index.ts';
import { TurnEnd } from '../nats/turn-end.ts';
import { Projector, ReadModel, ReadyIndex } from '../projections/index.ts';
import { EventStore } from '../store/event-store.ts';
import { lockReadModelFile } from '../store/home-lock.ts';
import type { StoreSettings } from '../store/stream-settings.ts';
import type { AppContext } from './app-context.ts';
import { Authenticator } from './authenticator.ts';
import { ClaimService } from './claim-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { eventIdGenerator } from './event-ids.ts';
import type { LlmMetrics } from './llm-metrics.ts';
import { NodeMetrics } from './node-metrics.ts';
import { ProgressNumbering } from './progress-numbering.ts';
import { Readiness } from './readiness.ts';
import { StreamMetrics } from './stream-metrics.ts';
import { observeStream } from './stream-observer.ts';

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
  /**
   * Resolve only once the node is ready (its read model caught up with the stream). Default true. A server
   * passes false: it listens at once (so `/readyz` can say it is catching up) and waits on `readiness`.
   */
  catchUp?: boolean;
  /** Told when the projector stopped for good: the process should exit rather than serve a frozen model. */
  onProjectorFailure?: (error: unknown) => void;
  /** Time and timers of deciders, manager and claims. Default: the system clock (tests pass a fake one). */
  clock?: Clock;
  /** Readiness bounds (lag as time); see ReadinessOptions. */
  readiness?: { maxLagMs?: number; recoverLagMs?: number };
  /**
   * The observer of this process's model calls (the manager's planner and auditor), built before the node
   * because the agents are; exposed on /metrics. Default: a fresh one nobody reports to.
   */
  llmMetrics?: LlmMetrics;
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
  // One per node: its appends, its command replies and its projector's fold are scheduled together.
  const turnEnd = new TurnEnd();
  let store: EventStore;
  let readModel: ReadModel;
  try {
    store = await EventStore.open(opts.nc, opts.store, { turnEnd });
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
    afterSends: (work) => turnEnd.afterSends(work),
    onError: (error) => {
      log.fatal({ err: error }, 'the projector stopped: this read model can no longer be trusted');
      opts.onProjectorFailure?.(error);
    },
    onFeedStall: (stall) =>
      log.warn(stall, 'the event feed stopped delivering while the stream holds more; starting it again'),
    onFeedError: (error) => log.warn({ err: error }, 'the event feed could not be started; trying again'),
  });
  projector.start();
  const readiness = new Readiness({
    projector,
    connected: () => store.connected,
    ...opts.readiness,
  });
  readiness.onChange((snapshot) => {
    const fields = { reason: snapshot.reason, appliedSeq: snapshot.appliedSeq };
    if (snapshot.ready) log.info(fields, 'ready');
    // Stopping is the ordinary end, not a fault.
    else if (snapshot.reason === 'stopping') log.info(fields, `not ready: ${snapshot.detail}`);
    else log.warn(fields, `not ready: ${snapshot.detail}`);
  });
  readiness.start();
  const clock = opts.clock ?? systemClock;
  const ports: CommandPorts = {
    append: (req) => store.append(req),
    subjects: store.subjects,
    waitFor: (seq, timeoutMs) => projector.waitFor(seq, timeoutMs),
    clock: () => clock.now(),
    newId: eventIdGenerator(),
  };
  const metrics = new NodeMetrics({
    stream: new StreamMetrics({
      taskState: (graphId, taskId) => projector.graphState(graphId)?.tasks.get(taskId),
    }),
    ...(opts.llmMetrics === undefined ? {} : { llm: opts.llmMetrics }),
  });
  const stopObserving = observeStream({ projector, readiness, metrics: metrics.stream, log });
  const results = readModel.results;
  const ctx: AppContext = {
    store,
    readModel,
    results,
    projector,
    readyIndex,
    readiness,
    log,
    turnEnd,
    metrics,
    ports,
    clock,
    progressNumbering: new ProgressNumbering(),
    auth: new Authenticator({
      agents: readModel.agents,
      projector,
      ...(opts.adminToken === undefined ? {} : { adminToken: opts.adminToken }),
    }),
    claims: new ClaimService({
      store,
      projector,
      ports,
      clock,
      readyIndex,
      readiness,
      results,
      metrics,
      log,
    }),
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    ctx.claims.stop();
    stopObserving();
    readiness.stop();
    try {
      await projector.stop();
    } finally {
      readModel.close();
      fileLock.release();
    }
  };
  if (opts.catchUp ?? true) {
    try {
      await readiness.whenReady();
    } catch (error) {
      await close();
      throw error;
    }
  }
  return {
    ctx,
    close,
  };
}
