import { decideExpireLease, type ExpireLease } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { ClockTimer } from '../node/clock.ts';
import type { AppliedBatch } from '../projections/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';

type Reason = ExpireLease['data']['reason'];

/** A timer further out than this is re-armed in steps (setTimeout's limit is 2^31-1 ms). */
const MAX_TIMER_MS = 2_147_483_000;

/**
 * Takes claims back: a claim whose lease ran out (no heartbeat) → ExpireLease `lease_expired`; an attempt
 * that ran past the graph's `timeoutMs`, even while heartbeating → ExpireLease `timeout`. The decider
 * turns either into TaskLeaseExpired (READY again after a backoff) or TaskFailed (attempts spent).
 *
 * One lease of grace after a start: a claim whose lease ends within `graceMs` of the manager starting is
 * only taken back one lease later (its worker could not heartbeat while we were down).
 *
 * It wakes at the earliest due claim (a timer), on each level sweep, and when a batch brings new claims.
 */
export class LeaseReaper {
  private readonly startedAt: number;
  readonly graceMs: number;
  private timer: ClockTimer | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly rt: ManagerRuntime,
    graceMs?: number,
  ) {
    this.startedAt = rt.now();
    // The default grace: the longest lease among the claims held at start, so each gets one more lease.
    this.graceMs = graceMs ?? rt.ctx.readModel.tasks.longestHeldLeaseMs();
  }

  /** Expires every claim due now and arms the timer for the next one. */
  sweep(): void {
    if (this.rt.stopped) return;
    const now = this.rt.now();
    let next = Number.POSITIVE_INFINITY;
    // Timeouts first: a claim both timed out and expired is reported as the timeout it is.
    const tasks = this.rt.ctx.readModel.tasks;
    for (const row of tasks.timedClaims()) {
      if (row.due <= now) this.expire(row.graph_id, row.id, row.claim_token, 'timeout');
      else next = Math.min(next, row.due);
    }
    for (const row of tasks.expiredClaims(now)) {
      const due = this.leaseDue(row.lease_until, row.lease_ms);
      if (due <= now) this.expire(row.graph_id, row.id, row.claim_token, 'lease_expired');
      else next = Math.min(next, due);
    }
    const upcoming = tasks.nextLeaseEnd(now);
    if (upcoming !== null) next = Math.min(next, upcoming);
    this.wakeAt(next);
  }

  /** New claims may end before the armed timer (graphs differ in leaseMs and timeoutMs). */
  onBatch(batch: AppliedBatch): void {
    for (const { event, anomaly } of batch.events) {
      if (event.type !== 'TaskClaimed' || anomaly !== null || event.graphId === undefined) continue;
      const options = this.rt.ctx.projector.graphState(event.graphId)?.options;
      if (!options) continue;
      let due = this.leaseDue(event.data.leaseUntil, options.leaseMs);
      if (options.timeoutMs !== undefined) due = Math.min(due, Date.parse(event.at) + options.timeoutMs);
      this.wakeAt(due);
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * When a silent claim may be taken back: at its lease end, or one lease later when that end falls in
   * the grace after start — but never after the grace is over.
   */
  private leaseDue(leaseUntil: number, leaseMs: number): number {
    return Math.max(leaseUntil, Math.min(leaseUntil + leaseMs, this.startedAt + this.graceMs));
  }

  private expire(graphId: string, taskId: string, claimToken: string, reason: Reason): void {
    this.rt.run(`expire:${graphId}:${taskId}:${claimToken}`, graphId, async () => {
      const outcome = await this.rt.command(graphId, (state, metadata) =>
        decideExpireLease(
          { type: 'ExpireLease', data: { graphId, taskId, claimToken, reason }, metadata },
          state,
        ),
      );
      if (isAppError(outcome))
        this.rt.refused(outcome, { graphId, taskId, claimToken, reason }, 'ExpireLease');
      else
        this.rt.log.info(
          { graphId, taskId, claimToken, reason, event: outcome.event?.type },
          'claim taken back',
        );
    });
  }

  private wakeAt(at: number): void {
    if (this.rt.stopped || !Number.isFinite(at) || at >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    // +1 ms: the deciders take a lease back only once it has ended (leaseUntil <= now).
    const delay = Math.min(Math.max(0, at - this.rt.now()) + 1, MAX_TIMER_MS);
    this.timer = this.rt.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.sweep();
    }, delay);
  }
}
