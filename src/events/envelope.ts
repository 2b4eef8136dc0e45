import { z } from 'zod';

/** Fields every event carries around its `data` (DESIGN.md "The stream"). */
export const envelopeShape = {
  /** UUID v7: time-ordered, unique across the stream. */
  id: z.uuid(),
  graphId: z.uuid().optional(),
  taskId: z.string().optional(),
  /** When the command was decided (ISO 8601). */
  at: z.iso.datetime(),
  /** Who caused it: an agent id, or `system:<component>` for the manager. */
  actor: z.string().min(1).max(128),
  causationId: z.string().optional(),
  correlationId: z.string().optional(),
  /**
   * The W3C traceparent of the span that appended it, only while tracing is on (AM_OTLP_ENDPOINT); a
   * GraphSubmitted's is the root of the graph's trace. Optional, so events without it stay as they were.
   */
  traceparent: z.string().max(128).optional(),
} as const;

/** Builds the schema of one event type at one version. */
export function eventSchema<const T extends string, const V extends number, D extends z.ZodType>(
  type: T,
  v: V,
  data: D,
) {
  return z.object({ type: z.literal(type), v: z.literal(v), ...envelopeShape, data });
}

export type EnvelopeFields = {
  id: string;
  graphId?: string | undefined;
  taskId?: string | undefined;
  at: string;
  actor: string;
  causationId?: string | undefined;
  correlationId?: string | undefined;
  traceparent?: string | undefined;
};
