import type { z } from 'zod';
import { AppError } from '../errors.ts';

/** Parses a request part with zod; a problem names the first bad field (`body.tasks.0.id: …`). */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const keys = issue?.code === 'unrecognized_keys' ? issue.keys : [];
  const path = [...(issue?.path ?? []), ...keys.slice(0, 1)].map(String);
  const field = path.join('.');
  const message =
    issue?.code === 'unrecognized_keys' ? `unknown field ${keys.join(', ')}` : (issue?.message ?? 'invalid');
  throw new AppError('AM_ERR_VALIDATION', field ? `${field}: ${message}` : message, {
    details: {
      field,
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    },
  });
}
