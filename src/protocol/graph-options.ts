import { z } from 'zod';
import { LIMITS } from './limits.ts';

/** Per-graph options. Defaults are applied when the graph is submitted and stored in GraphSubmitted. */
export const GraphOptionsSchema = z.object({
  /** How many failed audits may be reworked (so at most maxReworkCycles+1 audits). Default 2. */
  maxReworkCycles: z.number().int().min(0).max(10).default(2),
  /** Attempts per task per cycle before it fails the graph. Default 3. */
  maxAttempts: z.number().int().min(1).max(20).default(3),
  /** Claim lease, extended by heartbeats. Default 60 s. */
  leaseMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
  /** Optional cap on one attempt's duration, even while it heartbeats. */
  timeoutMs: z.number().int().min(1_000).max(86_400_000).optional(),
  /** Higher runs first. Default 0. */
  priority: z.number().int().min(-100).max(100).default(0),
  /**
   * The capability the `_synthesis` task requires, so only workers that list it write the final answer
   * (e.g. a stronger model); workers without it never get the synthesis task. Default: none (any worker).
   */
  synthesisCapability: z.string().min(1).max(LIMITS.maxCapabilityChars).optional(),
});
export type GraphOptions = z.infer<typeof GraphOptionsSchema>;
export type GraphOptionsInput = z.input<typeof GraphOptionsSchema>;
