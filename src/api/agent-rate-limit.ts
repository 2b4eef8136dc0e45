/**
 * A token bucket per agent: `ratePerSec` requests per second, bursts up to one second's worth.
 * In memory, per process: a limit against a runaway worker, not a billing meter.
 */
export class AgentRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly ratePerSec: number) {}

  /** Takes one token; returns 0 when allowed, else the seconds until the next token. */
  take(agentId: string, now = Date.now()): number {
    const bucket = this.buckets.get(agentId) ?? { tokens: this.ratePerSec, at: now };
    const refilled = Math.min(this.ratePerSec, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec);
    if (refilled < 1) {
      this.buckets.set(agentId, { tokens: refilled, at: now });
      return Math.ceil((1 - refilled) / this.ratePerSec);
    }
    this.buckets.set(agentId, { tokens: refilled - 1, at: now });
    if (this.buckets.size > 100_000) this.buckets.delete(this.buckets.keys().next().value ?? agentId);
    return 0;
  }
}
