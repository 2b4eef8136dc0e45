import type { Logger } from 'pino';
import type { CommandPorts } from '../commands/index.ts';
import type { TurnEnd } from '../nats/turn-end.ts';
import type { Projector, ReadModel, ReadyIndex } from '../projections/index.ts';
import type { EventStore } from '../store/event-store.ts';
import type { PrincipalCache } from './principal-cache.ts';
import type { Readiness } from './readiness.ts';

/** Everything an operation needs, built once per process by the server entry. */
export interface AppContext {
  store: EventStore;
  readModel: ReadModel;
  projector: Projector;
  readyIndex: ReadyIndex;
  /** Whether this node may serve; every operation checks it first. */
  readiness: Readiness;
  /** append/waitFor/clock/ids for handleCommand. */
  ports: CommandPorts;
  log: Logger;
  /** The end-of-turn scheduler the node's store, command service and projector share (see TurnEnd). */
  turnEnd: TurnEnd;
  /** SHA-256 (hex) of AM_ADMIN_TOKEN, or null when no bootstrap admin is configured. */
  adminTokenHash: string | null;
  /** Active agents by token hash, kept in step with the agents projection. */
  principals: PrincipalCache;
  /** Publishes `am.notify.v1.ready` hints (core NATS); absent in processes without a NATS service. */
  notifyReady?: (hint: { graphId: string; count: number }) => void;
}
