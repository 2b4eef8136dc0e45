import { expect } from 'vitest';
import type { Decision } from '../../../src/commands/decision.ts';
import { AppError, type ErrorCode } from '../../../src/errors.ts';
import type { Applied, FoldContext, GraphState, TaskState } from '../../../src/events/index.ts';
import {
  type AgentState,
  type DomainEvent,
  type EventDraft,
  type EventMetadata,
  evolveAgent,
  evolveGraph,
  type RecordedEvent,
  stamp,
} from '../../../src/events/index.ts';
import type { AuditReport, GraphOptionsInput, Result, TaskSpec } from '../../../src/protocol/index.ts';
import { GraphOptionsSchema } from '../../../src/protocol/index.ts';

export const GRAPH_ID = '01939a6e-0000-7000-8000-000000000001';
/** The time every history starts at (epoch ms). */
export const T0 = Date.parse('2026-03-01T12:00:00.000Z');
export const WORKER = 'worker-1';
export const OTHER_WORKER = 'worker-2';
export const MANAGER = 'system:manager';
export const ADMIN = 'admin-1';

let ids = 0;
/** Deterministic UUID-shaped ids, so stamped events pass the envelope schema. */
export function nextId(): string {
  ids += 1;
  return `01939a6e-0000-7000-8000-${ids.toString(16).padStart(12, '0')}`;
}

/** Command metadata at `now` (default T0) for `actor` (default the worker). */
export function meta(now: number = T0, actor: string = WORKER): EventMetadata {
  return { now, actor, newId: nextId };
}

/** Three independent-ish tasks: A, then B and C after A, then D after B and C (the diamond). */
export const DIAMOND: TaskSpec[] = [
  { id: 'A', title: 'a', instructions: 'do a' },
  { id: 'B', title: 'b', instructions: 'do b', dependsOn: ['A'] },
  { id: 'C', title: 'c', instructions: 'do c', dependsOn: ['A'] },
  { id: 'D', title: 'd', instructions: 'do d', dependsOn: ['B', 'C'] },
];

export function result(output = 'done'): Result {
  return { output, history: [{ thought: 't', action: { type: 'final', answer: output } }] };
}

export function report(passed: boolean, rework: string[] = []): AuditReport {
  return {
    passed,
    score: passed ? 0.9 : 0.3,
    summary: passed ? 'good' : 'needs work',
    findings: [],
    rework_suggestions: rework.map((taskId) => ({ taskId, problem: 'p', suggestion: 's' })),
  };
}

type At = { at?: number; actor?: string };

/**
 * A graph's history: events are stamped with sequential stream sequences (1, 2, …) and folded with
 * evolveGraph as they are added. Task events' sequences are their claim tokens, so helpers that claim
 * return the token.
 */
export class GivenGraph {
  readonly trail: RecordedEvent[] = [];
  private current: GraphState | null = null;
  lastApplied: Applied | null = null;
  /** The time of the next event unless given (advanced by `tick`). */
  now = T0;
  /** Revocations the fold knows of, by agent: the sequence the AgentRevoked was stored at. */
  private readonly revocations = new Map<string, number>();
  private readonly context: FoldContext = {
    revokedSeq: (agentId) => this.revocations.get(agentId) ?? null,
  };

  get state(): GraphState {
    if (this.current === null) throw new Error('no graph yet: submit first');
    return this.current;
  }

  get stateOrNull(): GraphState | null {
    return this.current;
  }

  task(id: string): TaskState {
    const task = this.state.tasks.get(id);
    if (!task) throw new Error(`no task ${id}`);
    return task;
  }

  get nextSeq(): number {
    return this.trail.length + 1;
  }

  /**
   * The agent is revoked now: its AgentRevoked (on its own subject, not in this trail) is stored after
   * every event so far and before the next one.
   */
  revoke(agentId: string): this {
    this.revocations.set(agentId, this.nextSeq - 0.5);
    return this;
  }

  tick(ms: number): this {
    this.now += ms;
    return this;
  }

  /** Adds one event; returns its sequence. */
  add(draft: EventDraft, opts: At = {}): number {
    const seq = this.nextSeq;
    const withGraph = { graphId: GRAPH_ID, ...draft } as EventDraft;
    const event = stamp(withGraph, { now: opts.at ?? this.now, actor: opts.actor ?? MANAGER, newId: nextId });
    const subject = event.taskId === undefined ? 'am.evt.g.graph' : `am.evt.g.task.${event.taskId}`;
    this.trail.push({ seq, subject, event });
    const { state, applied } = evolveGraph(this.current, { seq, subject, event }, this.context);
    this.current = state;
    this.lastApplied = applied;
    return seq;
  }

  /** Adds what an accepted decision would append, stamped with `metadata`; returns its sequence. */
  accept(decision: Decision | AppError, metadata: EventMetadata): number {
    const append = expectAppend(decision);
    const seq = this.nextSeq;
    const event: DomainEvent = stamp(append.event, metadata);
    this.trail.push({ seq, subject: 'am.evt.g', event });
    const { state, applied } = evolveGraph(this.current, { seq, subject: 'am.evt.g', event }, this.context);
    this.current = state;
    this.lastApplied = applied;
    return seq;
  }

  submit(tasks: TaskSpec[] | null = DIAMOND, options: GraphOptionsInput = {}, opts: At = {}): this {
    this.add(
      {
        type: 'GraphSubmitted',
        data: {
          goal: 'the goal',
          tasks,
          options: GraphOptionsSchema.parse(options),
          idempotencyKey: null,
        },
      },
      { actor: ADMIN, ...opts },
    );
    return this;
  }

  claim(taskId: string, agentId = WORKER, requestId = `req-${this.nextSeq}`, opts: At = {}): string {
    const task = this.task(taskId);
    return String(
      this.add(
        {
          type: 'TaskClaimed',
          taskId,
          data: {
            agentId,
            requestId,
            attempt: task.attempts + 1,
            cycle: this.state.cycle,
            leaseUntil: (opts.at ?? this.now) + this.state.options.leaseMs,
          },
        },
        { actor: agentId, ...opts },
      ),
    );
  }

  complete(taskId: string, claimToken: string, opts: At = {}): number {
    return this.add({ type: 'TaskCompleted', taskId, data: { claimToken, result: result() } }, opts);
  }

  /** Claims and completes each task in turn (each must be READY when its turn comes). */
  completeAll(...taskIds: string[]): this {
    for (const id of taskIds) this.complete(id, this.claim(id));
    return this;
  }

  attemptFailed(taskId: string, claimToken: string, retryAt: number): number {
    return this.add({
      type: 'TaskAttemptFailed',
      taskId,
      data: { claimToken, error: { message: 'boom', retryable: true }, history: [], retryAt },
    });
  }

  taskFailed(taskId: string, claimToken: string | null, decidedBy: 'holder' | 'manager' = 'holder'): number {
    return this.add({
      type: 'TaskFailed',
      taskId,
      data: {
        claimToken,
        reason: 'not_retryable',
        decidedBy,
        error: { message: 'boom', retryable: false },
        history: [],
      },
    });
  }

  graphCompleted(cycle = this.state.cycle): number {
    return this.add({ type: 'GraphCompleted', data: { cycle } });
  }

  auditPassed(cycle = this.state.cycle): number {
    return this.add({ type: 'AuditPassed', data: { cycle, report: report(true) } });
  }

  auditFailed(rework: string[], cycle = this.state.cycle): number {
    return this.add({ type: 'AuditFailed', data: { cycle, report: report(false, rework), rework } });
  }

  failGraph(reason: 'task_failed' | 'audit_not_passed' = 'task_failed'): number {
    return this.add({ type: 'GraphFailed', data: { reason, message: 'failed' } });
  }

  cancel(): number {
    return this.add({ type: 'GraphCancelled', data: { reason: null } }, { actor: ADMIN });
  }

  /** Runs the diamond's first cycle to an AUDITING graph. */
  throughFirstCycle(): this {
    this.completeAll('A', 'B', 'C', 'D');
    this.graphCompleted();
    return this;
  }

  /** Runs the diamond to SYNTHESIZING (first audit passed). */
  throughAudit(): this {
    this.throughFirstCycle();
    this.auditPassed();
    return this;
  }
}

export function given(): GivenGraph {
  return new GivenGraph();
}

/** An agent's history folded with evolveAgent. */
export function givenAgent(...drafts: EventDraft[]): AgentState | null {
  let state: AgentState | null = null;
  drafts.forEach((draft, i) => {
    const event = stamp(draft, { now: T0, actor: ADMIN, newId: nextId });
    state = evolveAgent(state, { seq: i + 1, subject: 'am.evt._sys.agent.x', event });
  });
  return state;
}

export function expectAppend(outcome: Decision | AppError): Extract<Decision, { kind: 'append' }> {
  if (outcome instanceof AppError)
    throw new Error(`expected an append, got ${outcome.code}: ${outcome.message}`);
  if (outcome.kind !== 'append') throw new Error(`expected an append, got a noop at ${outcome.seq}`);
  return outcome;
}

export function expectNoop(outcome: Decision | AppError, seq: number): void {
  expect(outcome).toEqual({ kind: 'noop', seq });
}

export function expectCode(outcome: Decision | AppError, code: ErrorCode): AppError {
  if (!(outcome instanceof AppError)) throw new Error(`expected ${code}, got ${JSON.stringify(outcome)}`);
  expect(outcome.code).toBe(code);
  return outcome;
}
