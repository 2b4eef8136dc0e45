import type { Logger } from 'pino';
import { decideClaimTask } from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Projector, ReadyEntry, ReadyIndex, ResultsProjection, TaskRef } from '../projections/index.ts';
import type { ClaimReply, ClaimRequest } from '../protocol/index.ts';
import { CapabilityWatch } from './capability-watch.ts';
import { claimReply } from './claim-reply.ts';
import type { Clock } from './clock.ts';
import type { NodeMetrics } from './node-metrics.ts';
import type { Principal } from './principal.ts';
import type { Readiness } from './readiness.ts';
import { type CommandNode, runGraphCommand } from './run-command.ts';
import { GraphTraces } from './tracing.ts';
import { tracingEnabled } from './tracing-setup.ts';

/** The longest a claim may long-poll (DESIGN.md: waitMs <= 30 s). */
export const MAX_CLAIM_WAIT_MS = 30_000;
/** Refusals that mean "this candidate is gone": move on to the next one. */
const CANDIDATE_GONE: ReadonlySet<string> = new Set([
  'AM_ERR_TASK_NOT_READY',
  'AM_ERR_TASK_NOT_FOUND',
  'AM_ERR_GRAPH_NOT_FOUND',
  'AM_ERR_GRAPH_CANCELLED',
  'AM_ERR_GRAPH_FINISHED',
]);

const NEVER_ABORTED = new AbortController().signal;
const NO_CAPABILITIES: ReadonlySet<string> = new Set();

/** What the claim path needs of its node (AppContext has it all). */
export interface ClaimNode extends CommandNode {
  projector: Projector;
  readyIndex: ReadyIndex;
  clock: Clock;
  readiness: Pick<Readiness, 'check' | 'onChange'>;
  results: ResultsProjection;
  metrics: NodeMetrics;
  log: Logger;
}

interface PendingClaim {
  agentId: string;
  controller: AbortController;
  settled: Promise<unknown>;
}

/**
 * ClaimTask for one node, and the one place that knows whether a request already has a claim.
 *
 * It takes candidates from the READY index (reserved in-process, so local claimers do not collide) and
 * appends TaskClaimed expecting the task's last sequence; a lost race moves on to the next candidate.
 * With `waitMs` it long-polls, woken by the index, not by a sleep loop. A retried request (same agent and
 * requestId) gets the claim it already has; a claim this node appended counts before its read model shows
 * it. A request with the requestId of one still long-polling ends that one first: over NATS the server
 * cannot see a requester go away, so a worker shutting down re-asks with waitMs 0 and releases what its
 * abandoned long-poll got, instead of leaving a claim for a dead worker until the lease expires.
 */
export class ClaimService {
  /** Claims still long-polling, by agent and requestId, so a retry of the same request supersedes them. */
  readonly #pending = new Map<string, PendingClaim>();
  /**
   * Claims this node appended that its read model may not show yet, by agent and requestId: a retry
   * arriving before the projector applied the claim finds the task reserved, not READY and not CLAIMED.
   */
  readonly #unprojected = new Map<string, number>();
  /**
   * Agents whose revocation this node applied while it ran. A request is authenticated when it arrives;
   * one that is still long-polling (or deciding) when its agent is revoked must not be handed a task.
   */
  readonly #revoked = new Set<string>();
  /** Null unless tracing was on when the node started: the claim path then costs nothing extra. */
  readonly #traces: GraphTraces | null;
  readonly #capabilities: CapabilityWatch;

  constructor(private readonly node: ClaimNode) {
    this.#traces = tracingEnabled() ? new GraphTraces(node.projector) : null;
    this.#capabilities = new CapabilityWatch({
      clock: node.clock,
      log: node.log,
      ready: () => node.readyIndex.entries(),
    });
    node.projector.onApplied((batch) => {
      for (const { event } of batch.events) {
        if (event.type === 'AgentRevoked') this.#onRevoked(event.data.agentId);
      }
    });
  }

  /** Ends the agent's long-polls at once with 401, as if the token had been refused when they arrived. */
  #onRevoked(agentId: string): void {
    this.#revoked.add(agentId);
    for (const pending of this.#pending.values()) {
      if (pending.agentId === agentId) pending.controller.abort(revokedError(agentId));
    }
  }

  #requireActive(principal: Principal): void {
    if (this.#revoked.has(principal.agentId)) throw revokedError(principal.agentId);
  }

  /** Whether this node traces (decided when it started): operations get spans only then. */
  get tracing(): boolean {
    return this.#traces !== null;
  }

  /** Claims long-polling now (for metrics, and for tests that must know a claim is waiting). */
  get waiting(): number {
    return this.#pending.size;
  }

  /** Stops the node's timers (the unserved-capability check). */
  stop(): void {
    this.#capabilities.stop();
  }

  /** Resolves with a claim, or null when no work came within `waitMs` (or the caller went away). */
  async claim(principal: Principal, body: ClaimRequest, signal?: AbortSignal): Promise<ClaimReply | null> {
    this.#capabilities.offered(body.capabilities);
    const key = claimKey(principal, body.requestId);
    const prior = this.#pending.get(key);
    if (prior) {
      prior.controller.abort();
      await prior.settled.catch(() => {});
    }
    // A claim that does not wait has nothing for a later copy to supersede: skip the bookkeeping.
    if ((body.waitMs ?? 0) === 0) return this.#claimOrWait(key, principal, body, signal ?? NEVER_ABORTED);
    const controller = new AbortController();
    const ended = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    const run = this.#claimOrWait(key, principal, body, ended);
    const entry = { agentId: principal.agentId, controller, settled: run };
    this.#pending.set(key, entry);
    try {
      return await run;
    } finally {
      if (this.#pending.get(key) === entry) this.#pending.delete(key);
    }
  }

  /**
   * The one answer to "does this request already have a claim?": one this node appended (its read model
   * may be a moment behind), or the current claim the read model holds for it; undefined when neither.
   */
  async existing(principal: Principal, requestId: string): Promise<ClaimReply | null | undefined> {
    const appended = this.#unprojected.get(claimKey(principal, requestId));
    if (appended !== undefined) return this.#replyForToken(String(appended));
    const held = this.node.projector.claims.byRequest(principal.agentId, requestId);
    return held === undefined ? undefined : this.#replyForClaimed(held);
  }

  async #claimOrWait(
    key: string,
    principal: Principal,
    body: ClaimRequest,
    signal: AbortSignal,
  ): Promise<ClaimReply | null> {
    const { ports, readyIndex, readiness } = this.node;
    const already = await this.existing(principal, body.requestId);
    if (already !== undefined) return already;
    const capabilities = body.capabilities?.length ? new Set(body.capabilities) : NO_CAPABILITIES;
    const deadline = ports.clock() + Math.min(body.waitMs ?? 0, MAX_CLAIM_WAIT_MS);
    for (;;) {
      // A caller that went away (or was superseded) must not be handed a task nobody will run; one whose
      // agent was revoked meanwhile is told so.
      if (signal.aborted) {
        if (isAppError(signal.reason)) throw signal.reason;
        return null;
      }
      this.#requireActive(principal);
      // A node that fell behind or lost NATS while this claim waited hands out nothing from its stale view.
      readiness.check();
      const now = ports.clock();
      const entry = readyIndex.reserve({ capabilities, now });
      if (entry) {
        const outcome = await this.#tryCandidate(key, principal, body, entry);
        if (outcome === 'next') continue;
        // Revoked while the claim was appended: the task stays with neither (a claim stored after the
        // revocation is void in the fold; one stored before it is released by the manager).
        this.#requireActive(principal);
        return outcome;
      }
      if (now >= deadline) return null;
      await this.#waitForWork(deadline, signal);
    }
  }

  /**
   * One claim attempt on one candidate: the reply, `'next'` when the candidate is gone, or null when this
   * request already claimed (and possibly finished) a task earlier: it must not claim a second one.
   */
  #tryCandidate(
    key: string,
    principal: Principal,
    body: ClaimRequest,
    entry: ReadyEntry,
  ): Promise<ClaimReply | null | 'next'> {
    if (this.#traces === null) return this.#attempt(key, principal, body, entry, undefined);
    const attributes = { 'am.task_id': entry.taskId, 'am.agent_id': principal.agentId };
    return this.#traces.claim(entry.graphId, attributes, (traceparent) =>
      this.#attempt(key, principal, body, entry, traceparent),
    );
  }

  /** #tryCandidate's work; `traceparent` (the claim span's, tracing on) goes into the reply. */
  async #attempt(
    key: string,
    principal: Principal,
    body: ClaimRequest,
    entry: ReadyEntry,
    traceparent: string | undefined,
  ): Promise<ClaimReply | null | 'next'> {
    const { projector, readyIndex, metrics } = this.node;
    const { graphId, taskId } = entry;
    let outcome: Awaited<ReturnType<typeof runGraphCommand>>;
    try {
      // One try: on a lost race the next candidate is better than waiting to re-decide this one.
      outcome = await runGraphCommand(
        this.node,
        principal.agentId,
        graphId,
        (state, metadata) =>
          decideClaimTask(
            {
              type: 'ClaimTask',
              data: {
                graphId,
                taskId,
                agentId: principal.agentId,
                requestId: body.requestId,
                ...(body.capabilities === undefined ? {} : { capabilities: body.capabilities }),
              },
              metadata,
            },
            state,
          ),
        { maxTries: 1 },
      );
    } catch (error) {
      if (!isAppError(error)) {
        readyIndex.unreserve(entry);
        throw error;
      }
      if (error.code === 'AM_ERR_CONFLICT') {
        metrics.conflicts += 1;
        readyIndex.noteConflict(this.node.clock.now());
        // Someone else moved the task on. Keep it reserved until the projection shows what happened.
        const seq = Number(error.details?.seq ?? 0);
        void projector.waitFor(seq, 5_000).then(() => readyIndex.unreserve(entry));
        return 'next';
      }
      if (CANDIDATE_GONE.has(error.code)) {
        metrics.stale += 1;
        readyIndex.remove(graphId, taskId);
        return 'next';
      }
      readyIndex.unreserve(entry);
      throw error;
    }
    if (outcome.duplicate) {
      // Our own earlier append of this request (a retry after a lost reply), possibly of another task.
      readyIndex.unreserve(entry);
      return this.#replyForToken(String(outcome.seq));
    }
    const state = projector.graphState(graphId);
    const task = state?.tasks.get(taskId);
    if (!state || !task)
      throw new AppError('AM_ERR_INTERNAL', `claimed ${graphId}/${taskId} is not in the read model`);
    if (outcome.noop) {
      readyIndex.unreserve(entry);
      return task.claim ? claimReply(this.node.results, state, task, task.claim) : null;
    }
    const claimed = outcome.event;
    metrics.claimed += 1;
    if (claimed?.type !== 'TaskClaimed')
      throw new AppError('AM_ERR_INTERNAL', 'a claim appended something else');
    this.#rememberUntilProjected(key, outcome.seq);
    return claimReply(
      this.node.results,
      state,
      task,
      { token: String(outcome.seq), attempt: claimed.data.attempt, leaseUntil: claimed.data.leaseUntil },
      traceparent,
    );
  }

  #rememberUntilProjected(key: string, seq: number): void {
    this.#unprojected.set(key, seq);
    void this.node.projector
      .waitFor(seq, 30_000)
      .catch(() => {})
      .finally(() => {
        if (this.#unprojected.get(key) === seq) this.#unprojected.delete(key);
      });
  }

  /** Finds the claim a token names once the local read model has it (the duplicate-ack path). */
  async #replyForToken(token: string): Promise<ClaimReply | null> {
    await this.node.projector.waitFor(Number(token), 5_000);
    return this.#replyForClaimed(this.node.projector.claims.byToken(token));
  }

  #replyForClaimed(row: TaskRef | undefined): ClaimReply | null {
    if (!row) return null;
    const state = this.node.projector.graphState(row.graph_id);
    const task = state?.tasks.get(row.id);
    if (!state || !task?.claim) return null;
    return claimReply(this.node.results, state, task, task.claim);
  }

  /**
   * Resolves when the READY index changes, a backed-off task becomes available, the deadline passes, the
   * caller goes away or the node's readiness changes.
   */
  #waitForWork(deadline: number, signal: AbortSignal): Promise<void> {
    const { clock, readyIndex, readiness } = this.node;
    return new Promise((resolve) => {
      const now = clock.now();
      const nextAvailable = readyIndex.nextAvailableAt(now);
      const wakeAt = nextAvailable === null ? deadline : Math.min(deadline, nextAvailable);
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal.removeEventListener('abort', done);
        stopWatchingReadiness();
        resolve();
      };
      const timer = clock.setTimeout(done, Math.max(0, wakeAt - now));
      signal.addEventListener('abort', done, { once: true });
      const stopWatchingReadiness = readiness.onChange(done);
      void readyIndex.changed().then(done);
    });
  }
}

function revokedError(agentId: string): AppError {
  return new AppError('AM_ERR_AUTH_REVOKED', `agent ${agentId} was revoked while its claim waited`);
}

function claimKey(principal: Principal, requestId: string): string {
  return `${principal.agentId}\u0000${requestId}`;
}
