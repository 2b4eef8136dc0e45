import type { GraphState } from '../events/index.ts';
import { type TaskGraph, TaskGraphSchema } from '../protocol/index.ts';
import { AgentsProjection } from './agents-projection.ts';
import { AuditsProjection } from './audits-projection.ts';
import { Checkpoint } from './checkpoint.ts';
import { openReadModel, PAGE_CACHE_KIB, PROJECTION_TABLES, type ReadModelDb } from './database.ts';
import { deferSecondaryIndexes, restoreDeferredIndexes } from './deferred-indexes.ts';
import { GraphsProjection, graphStateFromRow, graphView } from './graphs-projection.ts';
import { ProgressProjection } from './progress-projection.ts';
import { ResultsProjection } from './results-projection.ts';
import { SkippedProjection } from './skipped.ts';
import { taskStateFromRow } from './task-rows.ts';
import { TasksProjection } from './tasks-projection.ts';

/** SQLite's default: checkpoint once the WAL holds this many pages. */
const DEFAULT_WAL_AUTOCHECKPOINT_PAGES = 1000;

/** The SQLite read model of one AM process: every projection over one file. */
export class ReadModel {
  readonly graphs: GraphsProjection;
  readonly tasks: TasksProjection;
  readonly results: ResultsProjection;
  readonly progress: ProgressProjection;
  readonly audits: AuditsProjection;
  readonly agents: AgentsProjection;
  readonly skipped: SkippedProjection;
  readonly checkpoint: Checkpoint;

  constructor(
    readonly db: ReadModelDb,
    projectorName = 'main',
  ) {
    this.graphs = new GraphsProjection(db);
    this.tasks = new TasksProjection(db);
    this.results = new ResultsProjection(db);
    this.progress = new ProgressProjection(db);
    this.audits = new AuditsProjection(db);
    this.agents = new AgentsProjection(db);
    this.skipped = new SkippedProjection(db);
    this.checkpoint = new Checkpoint(db, projectorName);
  }

  static open(path: string, projectorName?: string): ReadModel {
    return new ReadModel(openReadModel(path), projectorName);
  }

  /** Rebuilds the graph aggregate from its rows (the projector's cache falls back to this). */
  loadGraphState(graphId: string): GraphState | null {
    const row = this.graphs.row(graphId);
    if (!row) return null;
    const state = graphStateFromRow(row);
    for (const taskRow of this.tasks.rowsOf(graphId)) {
      const task = taskStateFromRow(taskRow);
      state.tasks.set(task.id, task);
      if (task.kind !== 'work') continue;
      for (const dep of task.dependsOn) {
        const list = state.dependents.get(dep);
        if (list) list.push(task.id);
        else state.dependents.set(dep, [task.id]);
      }
    }
    state.audits = this.audits.auditsOf(graphId).map((audit) => ({
      cycle: audit.cycle,
      passed: audit.passed,
      report: audit.report,
      rework: audit.rework,
      seq: audit.seq,
      at: audit.at,
    }));
    return state;
  }

  /** The whole TaskGraph: graph, tasks with their latest results, audits. */
  taskGraph(graphId: string): TaskGraph | null {
    const row = this.graphs.row(graphId);
    if (!row) return null;
    const latest = this.results.latestOf(graphId);
    const graph: TaskGraph = {
      graph: graphView(row),
      tasks: this.tasks.rowsOf(graphId).map((task) => ({
        id: task.id,
        kind: task.kind as TaskGraph['tasks'][number]['kind'],
        title: task.title,
        instructions: task.instructions,
        dependsOn: JSON.parse(task.depends_on) as string[],
        capability: task.capability,
        status: task.status as TaskGraph['tasks'][number]['status'],
        attempts: task.attempts,
        cycle: task.cycle,
        completedCycle: task.completed_cycle,
        assignee: task.assignee,
        claimToken: task.claim_token,
        leaseUntil: task.lease_until === null ? null : new Date(task.lease_until).toISOString(),
        lastSeq: task.last_seq,
        result: latest.get(task.id) ?? null,
      })),
      audits: this.audits.auditsOf(graphId),
    };
    // The read model's contract with the API: fail here, loudly, rather than answer a malformed graph.
    return TaskGraphSchema.parse(graph);
  }

  /** Empties every projection table (rebuild); the migration log stays. */
  truncate(): void {
    this.db.transaction(() => {
      for (const table of PROJECTION_TABLES) this.db.exec(`DELETE FROM ${table}`);
    })();
  }

  /**
   * Readies the file for a full replay: the secondary indexes are dropped (see deferred-indexes.ts) and
   * WAL checkpoints wait for the end, so a page rewritten by many batches is copied into the file once.
   * Returns how many indexes it deferred.
   */
  beginBulkLoad(): number {
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.pragma(`cache_size = ${PAGE_CACHE_KIB.bulkLoad}`);
    return deferSecondaryIndexes(this.db);
  }

  /** Ends `beginBulkLoad`: builds the deferred indexes and checkpoints the WAL once. */
  endBulkLoad(): number {
    const restored = restoreDeferredIndexes(this.db);
    this.db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT_PAGES}`);
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    // Shrinking the limit frees the cached pages beyond it.
    this.db.pragma(`cache_size = ${PAGE_CACHE_KIB.steady}`);
    return restored;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
