/** Counters of one node's claim path (exposed on /metrics): how often racing claims lost. */
export class NodeMetrics {
  /** Claims appended (TaskClaimed accepted by JetStream). */
  claimed = 0;
  /** Claim appends refused by the expected-sequence check: another process won the race. */
  conflicts = 0;
  /** Candidates that turned out not claimable when decided (gone from READY). */
  stale = 0;
}
