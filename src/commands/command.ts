import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { EventMetadata } from '../events/index.ts';

/**
 * A command's metadata: the only source of time and ids a decider may use (CONVENTIONS.md "Write side").
 * `newId` is a function because the handler, not the decider, owns id generation.
 */
export const CommandMetadataSchema = z.object({
  now: z.number().int().nonnegative(),
  actor: z.string().min(1).max(128),
  newId: z.custom<() => string>((value) => typeof value === 'function', 'newId must be a function'),
  correlationId: z.string().optional(),
  causationId: z.string().optional(),
}) satisfies z.ZodType<EventMetadata>;

/** Builds the schema of one command: `{ type, data, metadata }`. */
export function commandSchema<const T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({ type: z.literal(type), data, metadata: CommandMetadataSchema });
}

/**
 * Parses an untrusted command at the edge (API, NATS service). Deciders take already parsed commands,
 * so a schema problem is reported here as AM_ERR_VALIDATION naming the first bad field.
 */
export function parseCommand<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> | AppError {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  return new AppError('AM_ERR_VALIDATION', `${field || 'command'}: ${issue?.message ?? 'invalid'}`, {
    details: {
      field,
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    },
  });
}
