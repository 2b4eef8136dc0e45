import { decideClaimTask } from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { ReadyEntry, TaskRef } from '../projections/index.ts';
import type { ClaimReply, ClaimRequest } from '../protocol/index.ts';
import type { AppContext } from './app-context.ts';
import { claimReply } from './claim-context.ts';
import { claimStats } from './claim-stats.ts';
import type { Principal } from './principal.ts';
import { runGraphCommand } from './run-command.ts';

/** The longest a claim may long-poll (DESIGN.md: waitMs <= 30 s). */
export const MAX_CLAIM_WAIT_MS = 30_000;
/** Refusals that mean "this candidate is gone": move on to the next one. */
const CANDIDATE_GONE = new Set([
  'AM_ERR_TASK_NOT_READY',
  'AM_ERR_TASK_NOT_FOUND',
  'AM_ERR_GRAPH_NOT_FOUND',
  'AM_ERR_GRAPH_CANCELLED',
  'AM_ERR_GRAPH_FINISHED',
]);

const NEVER_ABORTED = new AbortController().signal;
const NO_CAPABILITIES: ReadonlySet<string> = new Set();

/** Claims still long-polling, by agent and requestId, so a retry of the same request can supersede them. */
const pendingClaims = new WeakMap<AppContext, Map<string, PendingClaim>>();
interface PendingClaim {
  controller: AbortController;
  settled: Promise<unknown>;
}
/**
 * Claims this process appended that its read model may not show yet, by agent and requestId: a retry
 * arriving before the projector applied the claim finds the task reserved, not READY and not CLAIMED.
 */
const unprojectedClaims = new WeakMap<AppContext, Map<string, number>>();

function unprojected(ctx: AppContext): Map<string, number> {
  let claims = unprojectedClaims.get(ctx);
  if (!claims) {
    claims = new Map();
    unprojectedClaims.set(ctx, claims);
  }
  return claims;
}

function claimKey(principal: Principal, requestId: string): string {
  return `${principal.agentId}\u0000${requestId}`;
}

/**
 * ClaimTask: takes candidates from the READY index (reserved in-process, so local claimers do not
 * collide) and appends TaskClaimed expecting the task's last sequence; a lost race moves on to the next
 * candidate. With `waitMs` it long-polls, woken by the index, not by a sleep loop. A retried request
 * (same agent and requestId) gets the claim it already has. Resolves null when no work came in time.
 *
 * A request with the requestId of one still long-polling ends that one first: over NATS the server
 * cannot see a requester go away, so a worker shutting down re-asks with waitMs 0 and releases what its
 * abandoned long-poll got, instead of leaving a claim for a dead worker until the lease expires.
 */
export async function claimTask(
  ctx: AppContext,
  principal: Principal,
  body: ClaimRequest,
  signal?: AbortSignal,
): Promise<ClaimReply | null> {
  let pending = pendingClaims.get(ctx);
  if (!pending) {
    pending = new Map();
    pendingClaims.set(ctx, pending);
  }
  const key = claimKey(principal, body.requestId);
  const prior = pending.get(key);
  if (prior) {
    prior.controller.abort();
    await prior.settled.catch(() => {});
  }
  // A claim that does not wait has nothing for a later copy to supersede: skip the bookkeeping.
  if ((body.waitMs ?? 0) === 0) return claimOrWait(ctx, principal, body, signal ?? NEVER_ABORTED);
  const controller = new AbortController();
  const ended = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  const run = claimOrWait(ctx, principal, body, ended);
  const entry = { controller, settled: run };
  pending.set(key, entry);
  try {
    return await run;
  } finally {
    if (pending.get(key) === entry) pending.delete(key);
  }
}

async function claimOrWait(
  ctx: AppContext,
  principal: Principal,
  body: ClaimRequest,
  signal: AbortSignal,
): Promise<ClaimReply | null> {
  const appendedSeq = unprojected(ctx).get(claimKey(principal, body.requestId));
  if (appendedSeq !== undefined) return replyForToken(ctx, String(appendedSeq));
  const existing = existingClaim(ctx, principal, body.requestId);
  if (existing) return existing;
  const capabilities = body.capabilities?.length ? new Set(body.capabilities) : NO_CAPABILITIES;
  const deadline = ctx.ports.clock() + Math.min(body.waitMs ?? 0, MAX_CLAIM_WAIT_MS);
  for (;;) {
    // A caller that went away (or was superseded) must not be handed a task nobody will run.
    if (signal.aborted) return null;
    // A node that fell behind or lost NATS while this claim waited hands out nothing from its stale view.
    ctx.readiness.check();
    const now = ctx.ports.clock();
    const entry = ctx.readyIndex.reserve({ capabilities, now });
    if (entry) {
      const outcome = await tryCandidate(ctx, principal, body, entry);
      if (outcome === 'next') continue;
      return outcome;
    }
    if (now >= deadline) return null;
    await waitForWork(ctx, deadline, signal);
  }
}

/**
 * One claim attempt on one candidate: the reply, `'next'` when the candidate is gone, or null when this
 * request already claimed (and possibly finished) a task earlier: it must not claim a second one.
 */
async function tryCandidate(
  ctx: AppContext,
  principal: Principal,
  body: ClaimRequest,
  entry: ReadyEntry,
): Promise<ClaimReply | null | 'next'> {
  const { graphId, taskId } = entry;
  let outcome: Awaited<ReturnType<typeof runGraphCommand>>;
  try {
    // One try: on a lost race the next candidate is better than waiting to re-decide this one.
    outcome = await runGraphCommand(
      ctx,
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
      ctx.readyIndex.unreserve(entry);
      throw error;
    }
    if (error.code === 'AM_ERR_CONFLICT') {
      claimStats.conflicts += 1;
      // Someone else moved the task on. Keep it reserved until the projection shows what happened.
      const seq = Number(error.details?.seq ?? 0);
      void ctx.projector.waitFor(seq, 5_000).then(() => ctx.readyIndex.unreserve(entry));
      return 'next';
    }
    if (CANDIDATE_GONE.has(error.code)) {
      claimStats.stale += 1;
      ctx.readyIndex.remove(graphId, taskId);
      return 'next';
    }
    ctx.readyIndex.unreserve(entry);
    throw error;
  }
  if (outcome.duplicate) {
    // Our own earlier append of this request (a retry after a lost reply), possibly of another task.
    ctx.readyIndex.unreserve(entry);
    return replyForToken(ctx, String(outcome.seq));
  }
  const state = ctx.projector.graphState(graphId);
  const task = state?.tasks.get(taskId);
  if (!state || !task)
    throw new AppError('AM_ERR_INTERNAL', `claimed ${graphId}/${taskId} is not in the read model`);
  if (outcome.noop) {
    ctx.readyIndex.unreserve(entry);
    return task.claim ? claimReply(ctx, state, task, task.claim) : null;
  }
  const claimed = outcome.event;
  claimStats.claimed += 1;
  if (claimed?.type !== 'TaskClaimed')
    throw new AppError('AM_ERR_INTERNAL', 'a claim appended something else');
  rememberUntilProjected(ctx, claimKey(principal, body.requestId), outcome.seq);
  return claimReply(ctx, state, task, {
    token: String(outcome.seq),
    attempt: claimed.data.attempt,
    leaseUntil: claimed.data.leaseUntil,
  });
}

function rememberUntilProjected(ctx: AppContext, key: string, seq: number): void {
  const claims = unprojected(ctx);
  claims.set(key, seq);
  void ctx.projector
    .waitFor(seq, 30_000)
    .catch(() => {})
    .finally(() => {
      if (claims.get(key) === seq) claims.delete(key);
    });
}

/**
 * A retry of a request whose claim already landed (the reply was lost): the task has left the READY
 * index, so the decider's idempotent path is never reached; the read model answers instead.
 */
function existingClaim(ctx: AppContext, principal: Principal, requestId: string): ClaimReply | null {
  return replyForClaimed(ctx, ctx.projector.claims.byRequest(principal.agentId, requestId));
}

/** Finds the claim a token names once the local read model has it (the duplicate-ack path). */
async function replyForToken(ctx: AppContext, token: string): Promise<ClaimReply | null> {
  await ctx.projector.waitFor(Number(token), 5_000);
  return replyForClaimed(ctx, ctx.projector.claims.byToken(token));
}

function replyForClaimed(ctx: AppContext, row: TaskRef | undefined): ClaimReply | null {
  if (!row) return null;
  const state = ctx.projector.graphState(row.graph_id);
  const task = state?.tasks.get(row.id);
  if (!state || !task?.claim) return null;
  return claimReply(ctx, state, task, task.claim);
}

/**
 * Resolves when the READY index changes, a backed-off task becomes available, the deadline passes, the
 * caller goes away or the node's readiness changes.
 */
function waitForWork(ctx: AppContext, deadline: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const now = ctx.ports.clock();
    const nextAvailable = ctx.readyIndex.nextAvailableAt(now);
    const wakeAt = nextAvailable === null ? deadline : Math.min(deadline, nextAvailable);
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      stopWatchingReadiness();
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, wakeAt - now));
    signal.addEventListener('abort', done, { once: true });
    const stopWatchingReadiness = ctx.readiness.onChange(done);
    void ctx.readyIndex.changed().then(done);
  });
}
