import { setTimeout as sleep } from 'node:timers/promises';
import { context } from '@opentelemetry/api';
import { v4 as uuidv4 } from 'uuid';
import type { ClaimContext, ClaimedTask, ClaimReply, Step, TaskError, Usage } from '../protocol/index.ts';
import { LazyAbort } from './lazy-abort.ts';
import { isRetryable } from './retry.ts';
import { runTraced, stepContext } from './trace-context.ts';
import { type CallOptions, WorkerApiError, type WorkerTransport } from './worker-transport.ts';

/** How long one progress step is retried (best effort: steps are a live view, the result holds them all). */
const PROGRESS_RETRY_MS = 5_000;
/** How long a finished task's result waits for its progress steps still on the way. */
const PROGRESS_WAIT_MS = 2_000;

/** A task's end that brought no next claim and asked for none. */
const NOTHING_NEXT = { next: null, askAgain: null } as const;

/** What a handler gets for one claimed task. */
export interface TaskInput {
  task: ClaimedTask;
  context: ClaimContext;
  /** Aborted when the graph is cancelled, the claim is lost, or the worker shuts down past its grace. */
  signal: AbortSignal;
  /** Streams one ReAct step to the server as progress. */
  onStep(step: Step): void;
}

export type TaskOutcome =
  | {
      status: 'completed';
      output: string;
      history?: Step[];
      usage?: Usage;
      model?: string;
      promptVersion?: string;
    }
  | { status: 'failed'; error: TaskError; history?: Step[] };

/** How tasks are executed: by the LLM agent (`am worker`), or by plain code (`createWorker` as a library). */
export interface WorkerHandlers {
  execute(input: TaskInput): Promise<TaskOutcome>;
}

export interface WorkerOptions {
  transport: WorkerTransport;
  /** Tasks run at once. Default 1. */
  concurrency?: number;
  /** Offered only tasks without a capability or with one of these. Default none. */
  capabilities?: string[];
  /** How long one claim long-polls. Default 20000 ms. */
  claimWaitMs?: number;
  /** On stop: how long in-flight tasks may finish before they are released. Default 5000 ms. */
  shutdownGraceMs?: number;
  /**
   * On stop, after the grace: how long releasing what is in hand (and submitting what finished) may take
   * before the worker gives up on it (the leases then expire on the server). Default 3000 ms.
   */
  shutdownReleaseMs?: number;
  /** Structured events for logs and tests. */
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'claimed'; task: ClaimedTask; claimToken: string }
  | { type: 'completed'; task: ClaimedTask; seq: number }
  | { type: 'failed'; task: ClaimedTask; error: TaskError }
  | { type: 'released'; task: ClaimedTask; reason: string }
  | { type: 'cancelled'; task: ClaimedTask }
  | { type: 'lost'; task: ClaimedTask; reason: string }
  /** The way to a serving server was lost (NATS down, server unreachable or not ready) or is back. */
  | { type: 'link'; state: 'lost' | 'restored'; detail: string }
  /** The server refused this agent (revoked, or its credentials rotated): the worker stops claiming. */
  | { type: 'unauthorized'; code: string; message: string }
  | { type: 'error'; message: string };

export interface Worker {
  start(): void;
  /**
   * Stops claiming, lets in-flight work finish within the grace period, releases the rest; bounded by
   * shutdownGraceMs + shutdownReleaseMs even when the server or NATS is gone. Idempotent.
   */
  stop(): Promise<void>;
  readonly stats: { claimed: number; completed: number; failed: number; released: number };
}

/**
 * The worker loop: claim → execute → heartbeat (a third of the lease) → submit, `concurrency` at once.
 * Outcomes are explicit: done, retryable failure, unrecoverable failure; a cancelled graph stops the work.
 */
export function createWorker(handlers: WorkerHandlers, opts: WorkerOptions): Worker {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const claimWaitMs = opts.claimWaitMs ?? 20_000;
  const graceMs = opts.shutdownGraceMs ?? 5_000;
  const releaseMs = opts.shutdownReleaseMs ?? 3_000;
  const emit = opts.onEvent ?? (() => {});
  const stats = { claimed: 0, completed: 0, failed: 0, released: 0 };
  const stopClaiming = new AbortController();
  const shutdown = new AbortController();
  const slots: Promise<void>[] = [];
  /** The abort of every task running now, so a shutdown past its grace reaches them all. */
  const running = new Set<LazyAbort>();
  let started = false;
  let stopping: Promise<void> | null = null;
  let wakeIdle: (() => void) | null = null;
  /** Once stopping: when everything must be over (the calls made on the way out give up then). */
  let stopDeadline = Number.POSITIVE_INFINITY;
  /** Whether a failing claim was already reported (once per outage, not at every retry). */
  let claimTroubleReported = false;
  const unsubscribeHints = opts.transport.onReadyHint?.(() => wakeIdle?.());
  const unsubscribeLink = opts.transport.onLinkChange((change) => emit({ type: 'link', ...change }));
  /** Calls that give a task back: while stopping, retried until the stop deadline and not longer. */
  const releaseCall = (): CallOptions =>
    Number.isFinite(stopDeadline) ? { retryUntil: () => stopDeadline } : {};

  async function slot(): Promise<void> {
    let failures = 0;
    // A claim handed over with the previous result (SubmitResult `next`) skips the claim round trip.
    let handedOver: ClaimReply | null = null;
    // Kept until the claim is answered: a request whose reply was lost (the server claimed a task, then
    // NATS or the server went away) is asked again by the same id and gets that claim, instead of leaving
    // the task held by nobody until its lease runs out.
    let requestId: string | null = null;
    while (!stopClaiming.signal.aborted) {
      let claim: ClaimReply | null = handedOver;
      handedOver = null;
      if (claim === null) {
        requestId ??= uuidv4();
        const id = requestId;
        try {
          claim = await opts.transport.claim(
            {
              requestId: id,
              waitMs: claimWaitMs,
              ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
            },
            { signal: stopClaiming.signal },
          );
          failures = 0;
          claimTroubleReported = false;
          requestId = null;
        } catch (error) {
          if (stopClaiming.signal.aborted) {
            await releaseOrphan(id);
            return;
          }
          if (error instanceof WorkerApiError && error.status === 401) {
            // Revoked or rotated: no retry will be accepted. Stop asking; what runs now cannot be
            // submitted either (the manager releases a revoked agent's claims).
            if (!stopClaiming.signal.aborted) {
              stopClaiming.abort();
              wakeIdle?.();
              emit({ type: 'unauthorized', code: error.code, message: error.message });
            }
            return;
          }
          // Anything but "unreachable, try again" answered the request: the next one is a new request.
          if (!isRetryable(error)) requestId = null;
          // Claims are retried for as long as it takes: a server restart or a NATS outage is waited out.
          if (!isRetryable(error) || !claimTroubleReported) {
            emit({
              type: 'error',
              message: `claim failed: ${(error as Error).message}${isRetryable(error) ? ' (retrying)' : ''}`,
            });
          }
          if (isRetryable(error)) claimTroubleReported = true;
          failures += 1;
          await pause(Math.min(200 * 2 ** failures, 5_000));
          continue;
        }
      }
      if (claim === null) continue;
      stats.claimed += 1;
      emit({ type: 'claimed', task: claim.task, claimToken: claim.claimToken });
      const claimed: ClaimReply = claim;
      const after = await runTraced(claimed, () => run(claimed));
      handedOver = after.next;
      // A next claim asked with the result and not handed over may still have been made (its reply lost
      // with the result's, or it failed after storing): the next claim asks again by the same id.
      requestId = after.askAgain;
    }
    // Stopped between asking for the next task and getting it: give it back for another worker.
    if (handedOver !== null) await release(handedOver, 'worker shutting down').catch(() => {});
    else if (requestId !== null) await releaseOrphan(requestId);
  }

  /** A long-poll aborted by shutdown may have claimed a task server-side: ask again by requestId and give it back. */
  async function releaseOrphan(requestId: string): Promise<void> {
    try {
      const claim = await opts.transport.claim({ requestId, waitMs: 0 }, releaseCall());
      if (claim) await release(claim, 'worker shutting down');
    } catch {
      // The lease will expire and the task will be offered again.
    }
  }

  async function release(claim: ClaimReply, reason: string): Promise<void> {
    await opts.transport.release(
      claim.task.id,
      { graphId: claim.task.graphId, claimToken: claim.claimToken, reason },
      releaseCall(),
    );
    stats.released += 1;
    emit({ type: 'released', task: claim.task, reason });
  }

  /**
   * Runs one claimed task to its end; resolves with the next claim when the result brought one, else
   * with the requestId of the next claim it asked for (to ask again: the server may have made it).
   */
  async function run(claim: ClaimReply): Promise<{ next: ClaimReply | null; askAgain: string | null }> {
    const { task, claimToken } = claim;
    const abort = new LazyAbort();
    running.add(abort);
    let stopReason: 'cancelled' | 'lost' | null = null;
    const leaseMs = Math.max(3_000, Date.parse(claim.leaseUntil) - Date.now());
    /** The lease's end as last extended: the result is retried while the claim may still be ours. */
    let leaseEnd = Date.parse(claim.leaseUntil);
    // Beats until the result is acknowledged, not only while the task runs: a result retried through a
    // server restart keeps its lease.
    const beat = setInterval(
      () => {
        opts.transport
          .heartbeat(task.id, { graphId: task.graphId, claimToken })
          .then((reply) => {
            if (reply.leaseUntil !== null) leaseEnd = Math.max(leaseEnd, Date.parse(reply.leaseUntil));
            if (reply.cancelled && stopReason === null) {
              stopReason = 'cancelled';
              abort.abort(new Error('graph cancelled'));
            }
          })
          .catch((error: unknown) => {
            if (
              error instanceof WorkerApiError &&
              (error.status === 409 || error.status === 403) &&
              stopReason === null
            ) {
              stopReason = 'lost';
              abort.abort(new Error(`claim lost: ${error.code}`));
            }
          });
      },
      Math.max(1_000, Math.floor(leaseMs / 3)),
    );
    let stepIndex = 0;
    let stepsInFlight = 0;
    let progressChain: Promise<unknown> = Promise.resolve();
    const onStep = (step: Step) => {
      const index = stepIndex++;
      stepsInFlight += 1;
      const traced = stepContext(index);
      const send = () => {
        const until = Date.now() + PROGRESS_RETRY_MS;
        return opts.transport.progress(
          task.id,
          { graphId: task.graphId, claimToken, step, index },
          { retryUntil: () => Math.min(until, stopDeadline) },
        );
      };
      // In order, and never blocking the task: progress is best effort.
      progressChain = progressChain
        .then(() => (traced === undefined ? send() : context.with(traced, send)))
        .catch(() => {})
        .finally(() => {
          stepsInFlight -= 1;
        });
    };
    let outcome: TaskOutcome;
    try {
      outcome = await handlers.execute({
        task,
        context: claim.context,
        // Made only if the handler looks (LazyAbort).
        get signal() {
          return abort.signal;
        },
        onStep,
      });
    } catch (error) {
      outcome = {
        status: 'failed',
        error: { message: (error as Error).message ?? String(error), retryable: true },
      };
    } finally {
      running.delete(abort);
    }
    // Steps land before the result where the server is there to take them; an outage does not hold the result.
    if (stepsInFlight > 0) await settledWithin(progressChain, PROGRESS_WAIT_MS);
    const next = stopClaiming.signal.aborted
      ? undefined
      : { requestId: uuidv4(), ...(opts.capabilities ? { capabilities: opts.capabilities } : {}) };
    // A restarted server gives held claims one lease of grace (LeaseReaper), so a result may still land
    // up to a lease after the last known end; a stopping worker gives up at its stop deadline.
    const resultCall: CallOptions = { retryUntil: () => Math.min(leaseEnd + leaseMs, stopDeadline) };
    try {
      if (stopReason === 'cancelled') {
        emit({ type: 'cancelled', task });
        return NOTHING_NEXT;
      }
      if (stopReason === 'lost') {
        emit({ type: 'lost', task, reason: 'the claim is no longer ours' });
        return NOTHING_NEXT;
      }
      if (shutdown.signal.aborted && abort.aborted) {
        await release(claim, 'worker shutting down');
        return NOTHING_NEXT;
      }
      const reply = await opts.transport.submitResult(
        outcome.status === 'completed'
          ? {
              graphId: task.graphId,
              taskId: task.id,
              claimToken,
              status: 'completed',
              output: outcome.output,
              history: outcome.history ?? [],
              ...(outcome.usage ? { usage: outcome.usage } : {}),
              ...(outcome.model ? { model: outcome.model } : {}),
              ...(outcome.promptVersion ? { promptVersion: outcome.promptVersion } : {}),
              ...(next ? { next } : {}),
            }
          : {
              graphId: task.graphId,
              taskId: task.id,
              claimToken,
              status: 'failed',
              history: outcome.history ?? [],
              error: outcome.error,
              ...(next ? { next } : {}),
            },
        resultCall,
      );
      if (outcome.status === 'completed') {
        stats.completed += 1;
        emit({ type: 'completed', task, seq: reply.seq });
      } else {
        stats.failed += 1;
        emit({ type: 'failed', task, error: outcome.error });
      }
      const handed = reply.next ?? null;
      return { next: handed, askAgain: handed === null ? (next?.requestId ?? null) : null };
    } catch (error) {
      const code = error instanceof WorkerApiError ? error.code : '';
      if (
        code === 'AM_ERR_STALE_CLAIM' ||
        code === 'AM_ERR_GRAPH_CANCELLED' ||
        code === 'AM_ERR_CLAIM_FOREIGN'
      ) {
        emit({ type: 'lost', task, reason: code });
      } else {
        emit({ type: 'error', message: `submitting ${task.id} failed: ${(error as Error).message}` });
      }
      // The server may have claimed the next task before the reply got lost: the slot asks for it again.
      return { next: null, askAgain: next?.requestId ?? null };
    } finally {
      clearInterval(beat);
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      wakeIdle = done;
      stopClaiming.signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        wakeIdle = null;
        resolve();
      }
    });
  }

  return {
    stats,
    start() {
      if (started) return;
      started = true;
      for (let i = 0; i < concurrency; i++) slots.push(slot());
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        stopDeadline = Date.now() + graceMs + releaseMs;
        stopClaiming.abort();
        unsubscribeHints?.();
        const all = Promise.allSettled(slots);
        const graceTimer = new AbortController();
        const graceOver = sleep(graceMs, 'grace' as const, { signal: graceTimer.signal }).catch(
          () => 'done' as const,
        );
        const first = await Promise.race([all.then(() => 'done' as const), graceOver]);
        graceTimer.abort();
        if (first === 'grace') {
          shutdown.abort();
          for (const task of running) task.abort(new Error('shutdown'));
          // A handler that ignores its signal is left behind: its lease expires on the server.
          await settledWithin(all, stopDeadline - Date.now());
        }
        unsubscribeLink();
        await opts.transport.close();
      })();
      return stopping;
    },
  };
}

/** Waits for `promise` to settle, but no longer than `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([
    promise.catch(() => {}),
    sleep(Math.max(0, ms), undefined, { signal: timer.signal }).catch(() => {}),
  ]);
  timer.abort();
}
