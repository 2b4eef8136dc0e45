import type Database from 'better-sqlite3';
import { decideExpireLease, type ExpireLease } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { AppliedBatch } from '../projections/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';

interface ExpiredRow {
  graph_id: string;
  id: string;
  claim_token: string;
  lease_until: number;
  lease_ms: number;
}

interface TimeoutRow {
  graph_id: string;
  id: string;
  claim_token: string;
  due: number;
}

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
  private readonly expiredLeases: Database.Statement<[number], ExpiredRow>;
  private readonly nextLeaseEnd: Database.Statement<[number], { next: number | null }>;
  private readonly timedClaims: Database.Statement<[], TimeoutRow>;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly rt: ManagerRuntime,
    graceMs?: number,
  ) {
    const db = rt.ctx.readModel.db;
    this.startedAt = rt.now();
    // Both lease queries range over the partial index tasks_claimed_by_lease (status = 'CLAIMED').
    this.expiredLeases = db.prepare(
      `SELECT t.graph_id, t.id, t.claim_token, t.lease_until, json_extract(g.options, '$.leaseMs') AS lease_ms
       FROM tasks t JOIN graphs g ON g.id = t.graph_id
       WHERE t.status = 'CLAIMED' AND t.lease_until <= ?`,
    );
    this.nextLeaseEnd = db.prepare(
      `SELECT MIN(lease_until) AS next FROM tasks WHERE status = 'CLAIMED' AND lease_until > ?`,
    );
    // Only graphs that set timeoutMs, found through the status index; claims are few per graph.
    this.timedClaims = db.prepare(
      `SELECT t.graph_id, t.id, t.claim_token, t.claimed_at + json_extract(g.options, '$.timeoutMs') AS due
       FROM graphs g JOIN tasks t ON t.graph_id = g.id
       WHERE g.status IN ('RUNNING', 'SYNTHESIZING') AND json_extract(g.options, '$.timeoutMs') IS NOT NULL
         AND t.status = 'CLAIMED'`,
    );
    this.graceMs = graceMs ?? this.longestHeldLease(db);
  }

  /** Expires every claim due now and arms the timer for the next one. */
  sweep(): void {
    if (this.rt.stopped) return;
    const now = this.rt.now();
    let next = Number.POSITIVE_INFINITY;
    // Timeouts first: a claim both timed out and expired is reported as the timeout it is.
    for (const row of this.timedClaims.all()) {
      if (row.due <= now) this.expire(row.graph_id, row.id, row.claim_token, 'timeout');
      else next = Math.min(next, row.due);
    }
    for (const row of this.expiredLeases.all(now)) {
      const due = this.leaseDue(row.lease_until, row.lease_ms);
      if (due <= now) this.expire(row.graph_id, row.id, row.claim_token, 'lease_expired');
      else next = Math.min(next, due);
    }
    const upcoming = this.nextLeaseEnd.get(now)?.next ?? null;
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
    if (this.timer) clearTimeout(this.timer);
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
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // +1 ms: the deciders take a lease back only once it has ended (leaseUntil <= now).
    const delay = Math.min(Math.max(0, at - this.rt.now()) + 1, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.sweep();
    }, delay);
    this.timer.unref();
  }

  /** The default grace: the longest lease among the claims held at start, so each gets one more lease. */
  private longestHeldLease(db: Database.Database): number {
    const row = db
      .prepare(
        `SELECT MAX(json_extract(g.options, '$.leaseMs')) AS longest
         FROM tasks t JOIN graphs g ON g.id = t.graph_id WHERE t.status = 'CLAIMED'`,
      )
      .get() as { longest: number | null } | undefined;
    return row?.longest ?? 0;
  }
}
