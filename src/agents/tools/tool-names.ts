import { createHash } from 'node:crypto';

/** Between an MCP server's name and its tool's: `files__read_file`. */
export const MCP_NAME_SEPARATOR = '__';
const MAX_NAME = 64;

/** Replaces every character a tool name may not hold (TOOL_NAME_PATTERN) with `_`. */
export function sanitizeToolName(raw: string): string {
  const cleaned = raw.replace(/[^A-Za-z0-9_-]/g, '_');
  return cleaned.length > 0 ? cleaned : '_';
}

/**
 * The name the model sees for an MCP server's tool: `<server>__<tool>`, sanitised, at most 64
 * characters, and different from every name in `taken` (which it joins). A name that had to be cut
 * ends in a short hash of the real names, so two long names sharing a prefix stay apart; a clash
 * after sanitising (`a.b` and `a_b`) gets `_2`, `_3`, ….
 */
export function mcpToolName(server: string, tool: string, taken: Set<string>): string {
  let base = `${sanitizeToolName(server)}${MCP_NAME_SEPARATOR}${sanitizeToolName(tool)}`;
  if (base.length > MAX_NAME) {
    const hash = createHash('sha256').update(`${server}\0${tool}`).digest('hex').slice(0, 8);
    base = `${base.slice(0, MAX_NAME - hash.length - 1)}_${hash}`;
  }
  let name = base;
  for (let n = 2; taken.has(name); n++) {
    const suffix = `_${n}`;
    name = `${base.slice(0, MAX_NAME - suffix.length)}${suffix}`;
  }
  taken.add(name);
  return name;
}
