import type { LlmMetrics } from '../node/llm-metrics.ts';
import type { AuditReport, TaskSpec, Usage } from '../protocol/index.ts';

/** What the auditor sees of one task: its spec and its latest completed output. */
export interface AuditTaskInput {
  id: string;
  title: string;
  instructions: string;
  dependsOn: string[];
  output: string;
}

export interface AuditInput {
  goal: string;
  cycle: number;
  tasks: AuditTaskInput[];
}

/** The LLM work the manager needs; src/agents provides it (openai or offline), tests may stub it. */
export interface ManagerAgents {
  plan(goal: string, signal: AbortSignal): Promise<{ tasks: TaskSpec[]; planner: string; usage?: Usage }>;
  runAudit(input: AuditInput, signal: AbortSignal): Promise<AuditReport>;
  /** Where these agents count their model calls, for the node to expose on /metrics. Default: none. */
  readonly llmMetrics?: LlmMetrics;
}
