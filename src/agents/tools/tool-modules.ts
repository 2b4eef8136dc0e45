import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { type AnyTool, TOOL_NAME_PATTERN, type ToolContext } from './registry.ts';

/**
 * Custom tools without forking: an ES module whose default export (or named export `tools`) is an
 * array of `{ name, description, inputSchema (a zod 4 schema), run(input, ctx) }` — the `Tool`
 * interface of registry.ts. docs/tools.md shows one.
 */

/** Checks what a module exports and returns its tools; every problem names `label` (the module). */
export function toolsFromModule(exports: unknown, label: string): AnyTool[] {
  const mod = (typeof exports === 'object' && exports !== null ? exports : {}) as Record<string, unknown>;
  const list = mod.default ?? mod.tools;
  const which = mod.default === undefined ? 'export "tools"' : 'default export';
  if (list === undefined) {
    throw invalid(
      label,
      'exports no tools: give it a default export (or an export named "tools") that is an array of tools',
    );
  }
  if (!Array.isArray(list)) throw invalid(label, `${which}: expected an array of tools, got ${kind(list)}`);
  return list.map((entry, index) => checkTool(entry, `${label}: ${which}[${index}]`));
}

function checkTool(entry: unknown, where: string): AnyTool {
  if (typeof entry !== 'object' || entry === null) {
    throw invalid(where, `expected a tool { name, description, inputSchema, run }, got ${kind(entry)}`);
  }
  const tool = entry as Record<string, unknown>;
  const { name, description, inputSchema, run } = tool;
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
    throw invalid(
      `${where}.name`,
      `${JSON.stringify(name)} is not a tool name (1-64 letters, digits, "_" or "-")`,
    );
  }
  const at = `${where} (${name})`;
  if (typeof description !== 'string' || description.trim() === '') {
    throw invalid(`${at}.description`, 'expected a non-empty string telling the model what the tool does');
  }
  if (!isZodSchema(inputSchema)) {
    throw invalid(
      `${at}.inputSchema`,
      `expected a zod schema such as z.object({ … }), got ${kind(inputSchema)}`,
    );
  }
  try {
    z.toJSONSchema(inputSchema, { unrepresentable: 'any' });
  } catch (error) {
    throw invalid(
      `${at}.inputSchema`,
      `cannot be shown to the model as JSON Schema (is it a zod 4 schema?): ${(error as Error).message}`,
    );
  }
  if (typeof run !== 'function') {
    throw invalid(`${at}.run`, `expected a function run(input, ctx), got ${kind(run)}`);
  }
  const call = run as (input: unknown, ctx: ToolContext) => unknown;
  return {
    name,
    description,
    inputSchema,
    // Plain JavaScript modules may return any value: the model reads text, so others are JSON-encoded.
    async run(input: unknown, ctx: ToolContext) {
      const out = await call.call(tool, input, ctx);
      return typeof out === 'string' ? out : (JSON.stringify(out) ?? String(out));
    },
  };
}

function isZodSchema(value: unknown): value is z.ZodType<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === 'function' &&
    '_zod' in value
  );
}

export interface LoadToolModulesOptions {
  /** Names already taken (the built-in tools): a module tool may not reuse one. */
  reserved?: readonly string[];
}

/**
 * Imports each module (absolute paths or file URLs) and returns all their tools, in order. A module
 * that cannot be imported, exports something else, or reuses a name is an AM_ERR_CONFIG_INVALID
 * naming the module.
 */
export async function loadToolModules(
  files: readonly string[],
  options: LoadToolModulesOptions = {},
): Promise<AnyTool[]> {
  const owner = new Map<string, string>((options.reserved ?? []).map((name) => [name, 'a built-in tool']));
  const tools: AnyTool[] = [];
  for (const [index, file] of files.entries()) {
    const label = `tool_modules[${index}] (${file})`;
    let exports: unknown;
    try {
      exports = await import(file.startsWith('file:') ? file : pathToFileURL(file).href);
    } catch (error) {
      throw invalid(label, `could not be imported: ${(error as Error).message}`, error);
    }
    for (const tool of toolsFromModule(exports, label)) {
      const other = owner.get(tool.name);
      if (other !== undefined) {
        throw invalid(label, `tool "${tool.name}" is already defined by ${other}; give it another name`);
      }
      owner.set(tool.name, label);
      tools.push(tool);
    }
  }
  return tools;
}

function invalid(where: string, problem: string, cause?: unknown): AppError {
  return new AppError('AM_ERR_CONFIG_INVALID', `${where}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
