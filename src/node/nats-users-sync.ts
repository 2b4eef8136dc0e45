import type { Logger } from 'pino';
import { AGENT_EVENT_TYPES } from '../events/index.ts';
import type { AgentsProjection, Projector } from '../projections/index.ts';
import { natsUserOf } from '../protocol/index.ts';
import type { NatsAgentUser } from '../store/nats-config.ts';

/**
 * Where the agents' NATS users go: a server config to rewrite and reload (embedded, or a users file). A
 * sink that closes connections flushes this node's own connection first, so replies already sent to an
 * agent reach it before it is cut off.
 */
export type NatsUsersSink = (agents: readonly NatsAgentUser[]) => Promise<void>;

/** A failed write is tried again after this long, even when no agent changes meanwhile. */
const RETRY_MS = 2_000;

/**
 * Keeps a nats-server's agent users equal to the agents projection: each active agent with a NATS
 * password is a user (`am-agent-<id>`, password its bcrypt hash); a revoked or rotated agent's old
 * user disappears, and nats-server closes its connections on the reload. Driven by the projection, not
 * by the API call, so a registration or revocation through any AM server reaches the server this
 * process configures.
 *
 * It starts only once the node has caught up (`start()`): a read model still replaying would list too
 * few agents, and writing that would lock out agents the stream knows. Writes are coalesced: however
 * many agent events a burst brings, one write follows the last.
 */
export class NatsUsersSync {
  readonly #projector: Projector;
  readonly #agents: AgentsProjection;
  readonly #sink: NatsUsersSink;
  readonly #log: Logger;
  #stopListening: (() => void) | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #retry: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Whether the last write succeeded with the projection as it stands. */
  #current = false;

  constructor(opts: { projector: Projector; agents: AgentsProjection; sink: NatsUsersSink; log: Logger }) {
    this.#projector = opts.projector;
    this.#agents = opts.agents;
    this.#sink = opts.sink;
    this.#log = opts.log.child({ component: 'nats-users' });
  }

  /** Writes the users now and after every batch with an agent event. Call once the node has caught up. */
  start(): Promise<void> {
    if (this.#stopListening === null && !this.#stopped) {
      this.#stopListening = this.#projector.onApplied((batch) => {
        if (batch.events.some((applied) => AGENT_EVENT_TYPES.has(applied.event.type))) void this.sync();
      });
    }
    return this.sync();
  }

  /** Writes the users as the projection has them now (after a write in progress, once more). */
  sync(): Promise<void> {
    this.#current = false;
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    const run = this.#afterThisTurn()
      .then(() => this.#writeUntilCurrent())
      .finally(() => {
        if (this.#running === run) this.#running = null;
      });
    this.#running = run;
    return run;
  }

  /** Resolves once what the projection holds now has been written (or a write of it failed). */
  async synced(): Promise<boolean> {
    while (this.#running !== null) await this.#running;
    return this.#current;
  }

  stop(): void {
    this.#stopped = true;
    this.#stopListening?.();
    this.#stopListening = null;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
  }

  /**
   * The batch that revoked an agent also ended its waiting claims: their 401 replies leave at the end of
   * this turn, and must reach NATS before the reload closes the agent's connection (the sink flushes the
   * connection they leave on).
   */
  #afterThisTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  async #writeUntilCurrent(): Promise<void> {
    do {
      this.#again = false;
      if (this.#stopped) return;
      const users = this.#agents.natsUsers().map((agent) => ({
        user: natsUserOf(agent.agentId),
        password: agent.natsPasswordHash,
      }));
      try {
        await this.#sink(users);
        this.#current = !this.#again;
        this.#log.debug({ users: users.length }, 'NATS users written');
      } catch (error) {
        this.#log.error({ err: error }, 'could not write the NATS users; trying again');
        this.#scheduleRetry();
        return;
      }
    } while (this.#again);
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.sync();
    }, RETRY_MS);
    this.#retry.unref();
  }
}
