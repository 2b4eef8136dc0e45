import type {
  AuditReport,
  GraphFailureReason,
  GraphOptions,
  GraphStatus,
  TaskKind,
  TaskStatus,
} from '../protocol/index.ts';

/** The current claim on a task. `token` is the TaskClaimed stream sequence as a decimal string. */
export interface ClaimState {
  token: string;
  agentId: string;
  requestId: string;
  /** 1-based attempt number within the cycle. */
  attempt: number;
  claimedAt: number;
  leaseUntil: number;
}

export interface TaskState {
  id: string;
  kind: TaskKind;
  title: string;
  instructions: string;
  dependsOn: readonly string[];
  capability: string | null;
  status: TaskStatus;
  /** Attempts used (failed or expired) in the current cycle; a release uses none. */
  attempts: number;
  /** The cycle this task is (or was last) worked in. */
  cycle: number;
  completedCycle: number | null;
  claim: ClaimState | null;
  /** READY tasks are offered from this time on (epoch ms): backoff after a failed attempt. */
  availableAt: number;
  /** The stream sequence at which the task last became READY: the dispatch order within a priority. */
  readySeq: number;
  /** Last stream sequence of the task subject (0 = none yet): the expected sequence of the next append. */
  lastSeq: number;
  /**
   * The last accepted result (completion or failure): its claim token and sequence, so a repeat is
   * recognised. `agentId` (the claim's holder) lets a repeat be told from a foreign agent presenting the
   * same token; optional because a state loaded from rows that do not store it may lack it.
   */
  lastResult: { token: string; seq: number; agentId?: string } | null;
}

export interface MarkerState {
  /** Markers appended for the current planning run or audit cycle. */
  attempts: number;
  leaseUntil: number;
}

export interface AuditState {
  cycle: number;
  passed: boolean;
  report: AuditReport;
  rework: readonly string[];
  seq: number;
  at: string;
}

export interface GraphState {
  id: string;
  status: GraphStatus;
  goal: string;
  options: GraphOptions;
  submittedBy: string;
  idempotencyKey: string | null;
  /** Explicit graphs are planned by their submitter; the others by the planner. */
  explicit: boolean;
  /** 0 until planned, then 1, +1 per reworked audit. */
  cycle: number;
  /** The last cycle for which GraphCompleted was recorded (0 = none). */
  completedCycle: number;
  planning: MarkerState | null;
  /** The audit marker of the current cycle, or null. */
  audit: (MarkerState & { cycle: number }) | null;
  audits: AuditState[];
  failure: { reason: GraphFailureReason; message: string } | null;
  output: string | null;
  createdAt: string;
  updatedAt: string;
  /** The sequence of GraphSubmitted: what a repeated submission answers with. */
  submittedSeq: number;
  /** Last stream sequence of the graph subject. */
  lastSeq: number;
  /** Tasks in plan order (the synthesis task last). */
  tasks: Map<string, TaskState>;
  /** Reverse edges, derived from the plan: who waits on each task. */
  dependents: Map<string, string[]>;
}

/** What applying one event changed, so a projector writes only those rows. */
export interface Applied {
  graph: boolean;
  tasks: Set<string>;
  /** Set when the event was recorded but had no effect by rule (e.g. a void claim). */
  anomaly: string | null;
}

export function isTerminal(state: GraphState): boolean {
  return state.status === 'SUCCEEDED' || state.status === 'FAILED' || state.status === 'CANCELLED';
}

/** Graph statuses in which READY tasks may be claimed. */
export function isDispatching(state: GraphState): boolean {
  return state.status === 'RUNNING' || state.status === 'SYNTHESIZING';
}

/** Failures of tasks (work or synthesis) that a new attempt budget may fix. */
export function isRetryableFailure(reason: GraphFailureReason | undefined): boolean {
  return reason === 'task_failed' || reason === 'synthesis_failed';
}
