import { z } from 'zod';

/**
 * The input schema a tool is registered with: it advertises `schema` in `tools/list` (its JSON Schema,
 * as an LLM needs it), but lets every object through to the handler, which parses it with
 * `parseInput`. The SDK's own check would refuse bad input with a bare "Input validation error"; ours
 * answers AM_ERR_VALIDATION naming the field, as HTTP and NATS do.
 */
export function advertisedInput(schema: z.ZodType): z.ZodObject {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' });
  // The listing converts this object with the same zod and merges its metadata over it.
  return z.looseObject({}).meta(json);
}
