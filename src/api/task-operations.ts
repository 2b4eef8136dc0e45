import {
  decideExtendLease,
  decideReleaseTask,
  decideReportProgress,
  decideSubmitResult,
} from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AppContext } from '../node/app-context.ts';
import type { Principal } from '../node/principal.ts';
import { runGraphCommand } from '../node/run-command.ts';
import type {
  HeartbeatReply,
  HeartbeatRequest,
  ParsedSubmitResult,
  ProgressRequest,
  ReleaseRequest,
  SeqReply,
  SubmitResultReply,
} from '../protocol/index.ts';

/** ExtendLease. A heartbeat for a cancelled or stopped graph answers `cancelled: true` so the worker stops. */
export async function heartbeat(
  ctx: AppContext,
  principal: Principal,
  taskId: string,
  body: HeartbeatRequest,
): Promise<HeartbeatReply> {
  await untilClaimApplied(ctx, body.claimToken);
  const state = ctx.projector.graphState(body.graphId);
  if (state && (state.status === 'CANCELLED' || state.status === 'FAILED'))
    return { leaseUntil: null, cancelled: true };
  try {
    const outcome = await runGraphCommand(ctx, principal.agentId, body.graphId, (current, metadata) =>
      decideExtendLease(
        {
          type: 'ExtendLease',
          data: { graphId: body.graphId, taskId, agentId: principal.agentId, claimToken: body.claimToken },
          metadata,
        },
        current,
      ),
    );
    const event = outcome.event;
    const leaseUntil =
      event?.type === 'TaskLeaseExtended'
        ? event.data.leaseUntil
        : (ctx.projector.graphState(body.graphId)?.tasks.get(taskId)?.claim?.leaseUntil ?? null);
    return { leaseUntil: leaseUntil === null ? null : new Date(leaseUntil).toISOString(), cancelled: false };
  } catch (error) {
    if (isAppError(error) && error.code === 'AM_ERR_GRAPH_CANCELLED')
      return { leaseUntil: null, cancelled: true };
    throw error;
  }
}

/**
 * A claim token is the stream sequence of its TaskClaimed. A worker may use it before this process's
 * read model has applied that event (the claim was answered by a faster path or by another server),
 * and deciding on older state would wrongly call the claim stale. Wait for it first (bounded, and not at
 * all for a token past the stream's end: the decider refuses that one).
 */
async function untilClaimApplied(ctx: AppContext, claimToken: string): Promise<void> {
  const seq = Number(claimToken);
  if (seq <= ctx.projector.appliedSeq) return;
  // A real claim is applied within milliseconds; only a token still missing after that costs a look at
  // the stream's end, and one past it names no claim: refuse it now rather than after the whole wait.
  if (await ctx.projector.waitFor(seq, CLAIM_APPLY_GRACE_MS)) return;
  if (seq > (await ctx.store.lastSeq())) return;
  if (await ctx.projector.waitFor(seq, 5_000 - CLAIM_APPLY_GRACE_MS)) return;
  // The claim is in the stream but not in this read model yet (its feed is being restarted, say): this
  // server cannot tell whether the claim is current. Saying "stale" would make the holder drop a valid
  // result; a 503 makes it try again, here or elsewhere.
  throw new AppError('AM_ERR_NOT_READY', `this server has not applied claim ${claimToken} yet; retry`, {
    details: { reason: 'claim_not_applied', retryAfterSec: 1 },
  });
}

const CLAIM_APPLY_GRACE_MS = 200;

/** ReportProgress: one ReAct step, on the task's progress subject (never bumps the task's sequence). */
export async function reportProgress(
  ctx: AppContext,
  principal: Principal,
  taskId: string,
  body: ProgressRequest,
): Promise<SeqReply> {
  await untilClaimApplied(ctx, body.claimToken);
  const index =
    body.index ??
    ctx.progressNumbering.take(`${body.graphId}/${taskId}/${body.claimToken}`, () =>
      ctx.readModel.progress.countFor(body.graphId, taskId, body.claimToken),
    );
  const outcome = await runGraphCommand(ctx, principal.agentId, body.graphId, (state, metadata) =>
    decideReportProgress(
      {
        type: 'ReportProgress',
        data: {
          graphId: body.graphId,
          taskId,
          agentId: principal.agentId,
          claimToken: body.claimToken,
          index,
          step: body.step,
        },
        metadata,
      },
      state,
    ),
  );
  return { seq: outcome.seq };
}

/** ReleaseTask: back to READY at once, no attempt used. */
export async function releaseTask(
  ctx: AppContext,
  principal: Principal,
  taskId: string,
  body: ReleaseRequest,
): Promise<SeqReply> {
  await untilClaimApplied(ctx, body.claimToken);
  const outcome = await runGraphCommand(ctx, principal.agentId, body.graphId, (state, metadata) =>
    decideReleaseTask(
      {
        type: 'ReleaseTask',
        data: {
          graphId: body.graphId,
          taskId,
          agentId: principal.agentId,
          claimToken: body.claimToken,
          ...(body.reason === undefined ? {} : { reason: body.reason }),
        },
        metadata,
      },
      state,
    ),
  );
  return { seq: outcome.seq };
}

/**
 * SubmitResult: completed, or failed (retryable or not). The same submission repeated gets the same seq.
 * With `next`, the claim of another task runs beside the result's append (different aggregates, so the
 * two appends leave together); a claim made for a result that is then refused is released at once.
 */
export async function submitResult(
  ctx: AppContext,
  principal: Principal,
  body: ParsedSubmitResult,
): Promise<SubmitResultReply> {
  if (body.next === undefined) return appendResult(ctx, principal, body);
  const { requestId, capabilities } = body.next;
  const nextClaim = { requestId, waitMs: 0, ...(capabilities === undefined ? {} : { capabilities }) };
  const [result, claimed] = await Promise.allSettled([
    appendResult(ctx, principal, body),
    ctx.claims.claim(principal, nextClaim),
  ]);
  if (result.status === 'rejected') {
    if (claimed.status === 'fulfilled' && claimed.value !== null) {
      const { task, claimToken } = claimed.value;
      await releaseTask(ctx, principal, task.id, {
        graphId: task.graphId,
        claimToken,
        reason: 'claimed beside a result that was refused',
      }).catch((error: unknown) => {
        // Its lease expires and the task is offered again.
        ctx.log.warn(
          { err: error, graphId: task.graphId, taskId: task.id },
          'could not release a next claim',
        );
      });
    }
    throw result.reason;
  }
  if (claimed.status === 'rejected') {
    // The result stands; the worker claims the usual way and meets whatever failed there.
    ctx.log.debug({ err: claimed.reason }, 'the next claim of a result failed');
    return { seq: result.value.seq, next: null };
  }
  if (claimed.value !== null || body.status !== 'completed')
    return { seq: result.value.seq, next: claimed.value };
  // Nothing was READY beside the result, but the result itself may unblock a dependent (a chain):
  // once this process has applied it (normally within a millisecond), look once more.
  if (!(await ctx.projector.waitFor(result.value.seq, NEXT_AFTER_RESULT_WAIT_MS))) {
    return { seq: result.value.seq, next: null };
  }
  const unblocked = await ctx.claims.claim(principal, nextClaim).catch(() => null);
  return { seq: result.value.seq, next: unblocked };
}

/** How long a result with `next` waits for its own projection before answering `next: null`. */
const NEXT_AFTER_RESULT_WAIT_MS = 1_000;

async function appendResult(
  ctx: AppContext,
  principal: Principal,
  body: ParsedSubmitResult,
): Promise<SeqReply> {
  await untilClaimApplied(ctx, body.claimToken);
  const outcome = await runGraphCommand(ctx, principal.agentId, body.graphId, (state, metadata) =>
    decideSubmitResult(
      {
        type: 'SubmitResult',
        data: {
          graphId: body.graphId,
          taskId: body.taskId,
          agentId: principal.agentId,
          claimToken: body.claimToken,
          status: body.status,
          ...(body.status === 'completed'
            ? {
                result: {
                  output: body.output ?? '',
                  history: body.history,
                  ...(body.usage === undefined ? {} : { usage: body.usage }),
                  ...(body.model === undefined ? {} : { model: body.model }),
                  ...(body.promptVersion === undefined ? {} : { promptVersion: body.promptVersion }),
                },
              }
            : {
                history: body.history,
                error: body.error ?? { message: 'the worker reported a failure', retryable: true },
              }),
        },
        metadata,
      },
      state,
    ),
  );
  return { seq: outcome.seq };
}
