import { decideFailGraph, decideRecordAudit, decideStartAudit } from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { type AuditReport, AuditReportSchema, type GraphFailureReason, LIMITS } from '../protocol/index.ts';
import type { AuditInput, ManagerAgents } from './manager-agents.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import { callUnderMarker, type MarkerSettings } from './marker-call.ts';
import type { GraphReconciler } from './reconciler.ts';

/**
 * Audits completed cycles: an AUDITING graph with no outcome for its cycle (and no live marker) →
 * AuditStarted → `agents.runAudit` over the work tasks' latest completed outputs → RecordAudit with the
 * whole report (the decider makes AuditPassed, or AuditFailed with the rework set). Exactly one outcome
 * per cycle: RecordAudit's msgID `audit:<graph>:<cycle>` is shared and it expects the graph's sequence.
 * Then, from what was recorded: a failed audit with no rework left → GraphFailed `audit_not_passed`;
 * a report naming no valid task → `rework_invalid`; markers spent → `audit_failed`.
 */
export class Auditor implements GraphReconciler {
  readonly name = 'auditor';
  constructor(
    private readonly rt: ManagerRuntime,
    private readonly agents: ManagerAgents,
    private readonly settings: MarkerSettings,
  ) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.graphs.auditingIds();
  }

  reconcile(graph: GraphState): void {
    const graphId = graph.id;
    const key = `audit:${graphId}`;
    if (graph.status !== 'AUDITING') {
      if (this.rt.isRunning(key)) this.rt.cancel(key, `graph ${graphId} is ${graph.status}`);
      return;
    }
    const cycle = graph.cycle;
    const outcome = graph.audits.find((audit) => audit.cycle === cycle);
    if (outcome) {
      // AuditFailed with an empty rework set: the cycles ran out. Decided from the recorded outcome, so a
      // crash between the two appends, or a second manager's report, changes nothing.
      if (!outcome.passed && outcome.rework.length === 0) {
        const message = `no audit passed in ${graph.audits.length} audits (maxReworkCycles ${graph.options.maxReworkCycles}); last: ${outcome.report.summary}`;
        this.fail(graphId, 'audit_not_passed', message);
      }
      return;
    }
    if (this.rt.isRunning(key)) return;
    const marker = graph.audit;
    if (marker?.cycle === cycle && marker.leaseUntil > this.rt.now()) return;
    this.rt.run(key, graphId, (signal) => this.audit(graphId, cycle, signal));
  }

  private async audit(graphId: string, cycle: number, signal: AbortSignal): Promise<void> {
    const { rt, settings } = this;
    const outcome = await callUnderMarker({
      rt,
      graphId,
      what: 'audit',
      settings,
      signal,
      startMarker: (held) =>
        rt.command(graphId, (state, metadata) =>
          decideStartAudit(
            {
              type: 'StartAudit',
              data: {
                graphId,
                cycle,
                markerMs: settings.markerMs,
                maxAttempts: settings.maxAttempts,
                ...(held === undefined ? {} : { held }),
              },
              metadata,
            },
            state,
          ),
        ),
      call: async (callSignal) => {
        const input = this.input(graphId, cycle);
        if (input === null) throw new AppError('AM_ERR_GRAPH_NOT_FOUND', `no graph ${graphId}`);
        return validReport(await this.agents.runAudit(input, callSignal));
      },
    });
    switch (outcome.kind) {
      case 'lost':
        return;
      case 'done': {
        const report = outcome.value;
        const recorded = await rt.command(graphId, (state, metadata) =>
          decideRecordAudit({ type: 'RecordAudit', data: { graphId, cycle, report }, metadata }, state),
        );
        if (!isAppError(recorded)) {
          const verdict = recorded.event?.type ?? 'duplicate';
          rt.log.info({ graphId, cycle, verdict, seq: recorded.seq }, 'audit recorded');
        } else if (recorded.code === 'AM_ERR_REWORK_UNKNOWN_TASK') {
          // Asking again would likely loop on the same confusion; fail clearly instead.
          await this.failNow(graphId, 'rework_invalid', `audit of cycle ${cycle}: ${recorded.message}`);
        } else {
          rt.refused(recorded, { graphId, cycle }, 'RecordAudit');
        }
        return;
      }
      case 'exhausted': {
        const { lastError, attempts } = outcome;
        const why = lastError
          ? `${lastError.code}: ${lastError.message}`
          : `the audit was started ${attempts} times and never finished`;
        await this.failNow(graphId, 'audit_failed', `audit of cycle ${cycle} failed: ${why}`);
        return;
      }
      default: {
        const unreachable: never = outcome;
        return unreachable;
      }
    }
  }

  /** The auditor's view of the cycle: the goal and every work task with its latest completed output. */
  private input(graphId: string, cycle: number): AuditInput | null {
    const state = this.rt.ctx.projector.graphState(graphId);
    if (!state) return null;
    const results = this.rt.ctx.readModel.results;
    const tasks = [...state.tasks.values()]
      .filter((task) => task.kind === 'work')
      .map((task) => ({
        id: task.id,
        title: task.title,
        instructions: task.instructions,
        dependsOn: [...task.dependsOn],
        output: results.latestCompletedOf(graphId, task.id)?.output ?? '',
      }));
    return { goal: state.goal, cycle, tasks };
  }

  private fail(graphId: string, reason: GraphFailureReason, message: string): void {
    this.rt.run(`fail-audit:${graphId}`, graphId, () => this.failNow(graphId, reason, message));
  }

  private async failNow(graphId: string, reason: GraphFailureReason, message: string): Promise<void> {
    const text = message.slice(0, LIMITS.maxErrorMessageChars);
    const outcome = await this.rt.command(graphId, (state, metadata) =>
      decideFailGraph({ type: 'FailGraph', data: { graphId, reason, message: text }, metadata }, state),
    );
    if (isAppError(outcome)) this.rt.refused(outcome, { graphId, reason }, 'FailGraph');
    else this.rt.log.warn({ graphId, reason }, 'graph failed');
  }
}

/** The report as the events accept it; anything else is a failed attempt (the model may do better). */
function validReport(report: AuditReport): AuditReport {
  const parsed = AuditReportSchema.safeParse(report);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new AppError(
    'AM_ERR_LLM_INVALID_OUTPUT',
    `the audit report is malformed at ${issue?.path.join('.') || 'report'}: ${issue?.message ?? 'invalid'}`,
  );
}
