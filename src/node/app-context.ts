import type { Logger } from 'pino';
import type { CommandPorts } from '../commands/index.ts';
import type { TurnEnd } from '../nats/turn-end.ts';
import type { Projector, ReadModel, ReadyIndex, ResultsProjection } from '../projections/index.ts';
import type { EventStore } from '../store/event-store.ts';
import type { Authenticator } from './authenticator.ts';
import type { ClaimService } from './claim-service.ts';
import type { Clock } from './clock.ts';
import type { NodeMetrics } from './node-metrics.ts';
import type { ProgressNumbering } from './progress-numbering.ts';
import type { Readiness } from './readiness.ts';

/**
 * One AM node's parts, built once by startAppNode and handed to the transports (HTTP, NATS) and the
 * manager. Everything a process keeps between requests lives here, in instances the node owns: two nodes
 * in one process share nothing.
 */
export interface AppContext {
  store: EventStore;
  readModel: ReadModel;
  /** The results projection (claim replies carry the dependencies' outputs). */
  results: ResultsProjection;
  projector: Projector;
  readyIndex: ReadyIndex;
  /** Whether this node may serve; every operation checks it first. */
  readiness: Readiness;
  /** Bearer tokens to principals (admin token, agents), with a cache of active agents. */
  auth: Authenticator;
  /** ClaimTask, and the one answer to "does this request already have a claim?". */
  claims: ClaimService;
  /** This node's counters (claims, conflicts) for /metrics. */
  metrics: NodeMetrics;
  /** Progress indexes for steps a worker did not number. */
  progressNumbering: ProgressNumbering;
  /** Time and timers of the deciders, the manager and the claim path (a fake one in tests). */
  clock: Clock;
  /** append/waitFor/clock/ids for handleCommand. */
  ports: CommandPorts;
  log: Logger;
  /** The end-of-turn scheduler the node's store, command service and projector share (see TurnEnd). */
  turnEnd: TurnEnd;
  /** Publishes `am.notify.v1.ready` hints (core NATS); absent in processes without a NATS service. */
  notifyReady?: (hint: { graphId: string; count: number }) => void;
}
