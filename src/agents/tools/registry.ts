import { z } from 'zod';
import type { ClaimContext, ClaimedTask } from '../../protocol/index.ts';
import { LIMITS, truncate } from '../../protocol/index.ts';

/** What a tool may see of the task it serves. */
export interface ToolContext {
  task: ClaimedTask;
  context: ClaimContext;
  signal?: AbortSignal | undefined;
}

/**
 * What a tool may be called: letters, digits, `_` and `-`, at most 64 characters — what OpenAI-compatible
 * servers accept as a function name, so a tool's name never has to change between providers.
 */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface Tool<I = unknown> {
  /** Letters, digits, `_`, `-` (TOOL_NAME_PATTERN): the name the model calls it by. */
  name: string;
  description: string;
  /** Parses the model's input before `run`; its JSON Schema is what the model sees unless `inputJsonSchema` is set. */
  inputSchema: z.ZodType<I>;
  /** The JSON Schema shown to the model when the tool brings its own (an MCP server's tools). */
  inputJsonSchema?: unknown;
  /** Returns the observation text; a thrown error becomes an `Error: …` observation. */
  run(input: I, ctx: ToolContext): Promise<string> | string;
}

/** Any tool, its input type erased: each input is parsed by the tool's own schema before `run`. */
export interface AnyTool {
  name: string;
  description: string;
  inputSchema: z.ZodType<unknown>;
  inputJsonSchema?: unknown;
  run(input: never, ctx: ToolContext): Promise<string> | string;
}

/** A tool as the prompt lists it. */
export interface ToolDescriptor {
  name: string;
  description: string;
  inputSchema: unknown;
}

/** Thrown by a tool for an expected failure whose message the model should read as is. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface ToolRegistryOptions {
  /** Observations longer than this are truncated. Default LIMITS.maxObservationChars. */
  maxObservationChars?: number;
}

/**
 * The tools a worker may call. `run` never throws for a tool's own failure: an unknown tool, a bad
 * input or a tool error is an observation the model can react to, so one bad call does not end the
 * task.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();
  private readonly maxObservationChars: number;

  constructor(tools: readonly AnyTool[] = [], options: ToolRegistryOptions = {}) {
    this.maxObservationChars = Math.min(
      options.maxObservationChars ?? LIMITS.maxObservationChars,
      LIMITS.maxObservationChars,
    );
    for (const tool of tools) this.register(tool);
  }

  register(tool: AnyTool): this {
    if (!TOOL_NAME_PATTERN.test(tool.name)) {
      throw new Error(
        `tool name ${JSON.stringify(tool.name)} is not valid: use 1-64 letters, digits, "_" or "-"`,
      );
    }
    if (this.tools.has(tool.name)) throw new Error(`tool ${tool.name} is registered twice`);
    // Sound: `run` only ever receives what `inputSchema` parsed.
    this.tools.set(tool.name, tool as unknown as Tool);
    return this;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  describe(): ToolDescriptor[] {
    return [...this.tools.values()].map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputJsonSchema ?? z.toJSONSchema(tool.inputSchema, { unrepresentable: 'any' }),
    }));
  }

  /** Runs a tool and returns its observation, capped in size. Rethrows only an abort of `ctx.signal`. */
  async run(name: string, input: unknown, ctx: ToolContext): Promise<string> {
    return truncate(await this.runUncapped(name, input, ctx), this.maxObservationChars);
  }

  private async runUncapped(name: string, input: unknown, ctx: ToolContext): Promise<string> {
    const tool = this.tools.get(name);
    if (!tool) {
      const known = this.names();
      return `Error: unknown tool "${name}". Available tools: ${known.length ? known.join(', ') : '(none)'}.`;
    }
    const parsed = tool.inputSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`,
      );
      return `Error: invalid input for ${name}: ${issues.join('; ')}`;
    }
    try {
      return await tool.run(parsed.data, ctx);
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      return `Error: ${name} failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
