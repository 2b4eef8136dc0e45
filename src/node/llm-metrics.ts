import { Counter, Histogram, type Metric } from 'prom-client';

/**
 * One request to a model endpoint, as the LLM client's observer reports it (src/agents' LlmCallRecord,
 * restated here structurally: src/node does not import src/agents).
 */
export interface LlmCallSeen {
  role: string;
  /** The structured request's name; `synthesis` is counted as its own role. */
  name: string;
  model: string;
  outcome: string;
  durationMs: number;
  usage: { promptTokens: number; completionTokens: number };
}

/** A structured request that failed for good (src/agents' LlmFailureRecord). */
export interface LlmFailureSeen {
  role: string;
  name: string;
  model: string;
  code: string;
}

/** Seconds: a small local model answers in a tenth of a second, a large one in a minute. */
const LLM_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];

/**
 * The model calls THIS process makes (the manager's planner and auditor on a server, the ReAct steps and
 * synthesis on a worker), by role (planner, auditor, worker, synthesis) and model. It is the observer the
 * LLM client calls (`onCall`, `onFailure`); the process serving /metrics registers `all()`.
 * Per process: sum these across processes.
 */
export class LlmMetrics {
  readonly calls = new Counter({
    name: 'am_llm_calls_total',
    help: 'Requests to the model endpoint (retries and corrective calls included), by role, model and outcome',
    labelNames: ['role', 'model', 'outcome'] as const,
    registers: [],
  });
  readonly duration = new Histogram({
    name: 'am_llm_call_duration_seconds',
    help: 'Time of requests the model endpoint answered (outcome ok or invalid_output), by role and model',
    labelNames: ['role', 'model'] as const,
    buckets: LLM_BUCKETS,
    registers: [],
  });
  readonly tokens = new Counter({
    name: 'am_llm_tokens_total',
    help: 'Tokens the model endpoint reported for this process, by role, model and kind (prompt, completion)',
    labelNames: ['role', 'model', 'kind'] as const,
    registers: [],
  });
  readonly errors = new Counter({
    name: 'am_llm_errors_total',
    help: 'Structured requests that failed after their retries and corrective calls, by role, model and code',
    labelNames: ['role', 'model', 'code'] as const,
    registers: [],
  });

  /** Every metric, for a registry to register. */
  all(): Metric[] {
    return [this.calls, this.duration, this.tokens, this.errors];
  }

  onCall(call: LlmCallSeen): void {
    const role = roleOf(call);
    this.calls.inc({ role, model: call.model, outcome: call.outcome });
    if (call.outcome !== 'ok' && call.outcome !== 'invalid_output') return;
    this.duration.observe({ role, model: call.model }, call.durationMs / 1000);
    this.tokens.inc({ role, model: call.model, kind: 'prompt' }, call.usage.promptTokens);
    this.tokens.inc({ role, model: call.model, kind: 'completion' }, call.usage.completionTokens);
  }

  onFailure(failure: LlmFailureSeen): void {
    this.errors.inc({ role: roleOf(failure), model: failure.model, code: failure.code });
  }
}

/** The client's roles are planner, auditor and worker; synthesis is a worker call of its own name. */
function roleOf(call: { role: string; name: string }): string {
  return call.name === 'synthesis' ? 'synthesis' : call.role;
}
