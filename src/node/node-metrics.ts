import { LlmMetrics } from './llm-metrics.ts';
import type { StreamMetrics } from './stream-metrics.ts';

/**
 * One node's metrics, owned by the node and exposed on /metrics by its HTTP app: the claim path's tallies
 * (plain numbers, so a claim pays an increment and nothing more), what the stream said (StreamMetrics, fed by
 * the projector once the node is ready) and this process's model calls (LlmMetrics, the LLM client's observer).
 */
export class NodeMetrics {
  /** Claims appended (TaskClaimed accepted by JetStream). */
  claimed = 0;
  /** Claim appends refused by the expected-sequence check: another process won the race. */
  conflicts = 0;
  /** Candidates that turned out not claimable when decided (gone from READY). */
  stale = 0;
  readonly stream: StreamMetrics;
  readonly llm: LlmMetrics;

  constructor(parts: { stream: StreamMetrics; llm?: LlmMetrics }) {
    this.stream = parts.stream;
    this.llm = parts.llm ?? new LlmMetrics();
  }
}
