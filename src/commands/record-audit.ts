import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { type AuditReport, AuditReportSchema, GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, refuseTerminal, requireGraph } from './guards.ts';
import { reworkSet } from './rework-set.ts';

export const RecordAuditSchema = commandSchema(
  'RecordAudit',
  z.object({ graphId: GraphIdSchema, cycle: z.number().int().min(1), report: AuditReportSchema }),
);
export type RecordAudit = z.infer<typeof RecordAuditSchema>;

/**
 * Records the auditor's verdict on a cycle. Passed → AuditPassed (the synthesis task becomes READY).
 * Failed → AuditFailed resetting the named tasks and their transitive dependents for the next cycle, or
 * with an empty rework when no rework cycle is left (the manager then fails the graph with
 * `audit_not_passed`). A failed report must name at least one task, and only work tasks of the graph;
 * otherwise AM_ERR_REWORK_UNKNOWN_TASK (the manager fails the graph with `rework_invalid`).
 */
export function decideRecordAudit(command: RecordAudit, state: GraphState | null): Decision | AppError {
  const { graphId, cycle, report } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  if (graph.status !== 'AUDITING' || cycle !== graph.cycle) {
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} is not auditing cycle ${cycle}`, {
      details: { status: graph.status, cycle: graph.cycle },
    });
  }
  const base = {
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // Shared: one verdict per cycle, whoever records it.
    msgId: `audit:${graphId}:${cycle}`,
  } as const;
  if (report.passed) {
    return { kind: 'append', ...base, event: { type: 'AuditPassed', graphId, data: { cycle, report } } };
  }
  const named = namedTasks(report);
  const unknown = named.filter((id) => graph.tasks.get(id)?.kind !== 'work');
  if (named.length === 0 || unknown.length > 0) {
    const detail =
      named.length === 0
        ? 'the failed audit names no task to rework'
        : `the audit names tasks the graph does not have: ${unknown.join(', ')}`;
    return new AppError('AM_ERR_REWORK_UNKNOWN_TASK', detail, { details: { tasks: unknown } });
  }
  // Cycle n is the n-th audit; a rework is allowed after at most maxReworkCycles failed audits.
  const rework = cycle > graph.options.maxReworkCycles ? [] : reworkSet(graph, named);
  return {
    kind: 'append',
    ...base,
    event: { type: 'AuditFailed', graphId, data: { cycle, report, rework } },
  };
}

function namedTasks(report: AuditReport): string[] {
  return [...new Set(report.rework_suggestions.map((s) => s.taskId))];
}
