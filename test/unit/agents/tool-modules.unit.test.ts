import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ToolContext, ToolRegistry } from '../../../src/agents/tools/registry.ts';
import { toolsFromModule } from '../../../src/agents/tools/tool-modules.ts';
import { isAppError } from '../../../src/errors.ts';

const ctx: ToolContext = {
  task: { id: 't1', graphId: 'g', title: 'T', instructions: '', kind: 'work', attempt: 2, cycle: 1 },
  context: { goal: 'goal', dependencies: [] },
};

const wordCount = {
  name: 'word_count',
  description: 'Counts words.',
  inputSchema: z.object({ text: z.string() }),
  run: ({ text }: { text: string }) => `${text.split(/\s+/).length} words`,
};

/** The message of what `fn` throws, after checking it is an AM_ERR_CONFIG_INVALID. */
function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isAppError(error) && error.code).toBe('AM_ERR_CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

describe('a custom tool module', () => {
  describe('when it exports tools correctly', () => {
    it('takes the default export, whose tools run through the registry like built-in ones', async () => {
      const tools = toolsFromModule({ default: [wordCount] }, 'm.mjs');
      const registry = new ToolRegistry(tools);
      expect(await registry.run('word_count', { text: 'one two three' }, ctx)).toBe('3 words');
      expect(await registry.run('word_count', { text: 3 }, ctx)).toMatch(
        /^Error: invalid input for word_count/,
      );
      expect(registry.describe()[0]?.inputSchema).toMatchObject({
        type: 'object',
        properties: { text: { type: 'string' } },
      });
    });

    it('takes a named export "tools" when there is no default export', () => {
      expect(toolsFromModule({ tools: [wordCount] }, 'm.mjs').map((t) => t.name)).toEqual(['word_count']);
    });

    it('gives run the task context, and JSON-encodes what is not a string', async () => {
      const [tool] = toolsFromModule(
        {
          default: [
            {
              name: 'info',
              description: 'd',
              inputSchema: z.object({}),
              run: (_input: unknown, c: ToolContext) => ({ task: c.task.id, attempt: c.task.attempt }),
            },
          ],
        },
        'm.mjs',
      );
      expect(await new ToolRegistry([tool!]).run('info', {}, ctx)).toBe('{"task":"t1","attempt":2}');
    });

    it('turns a throwing run into an Error observation', async () => {
      const tools = toolsFromModule(
        {
          default: [
            {
              ...wordCount,
              run: () => {
                throw new Error('no dictionary');
              },
            },
          ],
        },
        'm.mjs',
      );
      expect(await new ToolRegistry(tools).run('word_count', { text: 'x' }, ctx)).toBe(
        'Error: word_count failed: no dictionary',
      );
    });
  });

  describe('when what it exports is not a list of tools', () => {
    it.each([
      ['nothing', {}, /^my\.mjs: exports no tools/],
      ['an object as default export', { default: wordCount }, /^my\.mjs: default export: expected an array/],
      ['a string in the list', { default: ['word_count'] }, /^my\.mjs: default export\[0\]: expected a tool/],
      [
        'a bad name',
        { default: [{ ...wordCount, name: 'word count' }] },
        /^my\.mjs: default export\[0\]\.name: "word count" is not a tool name/,
      ],
      ['a name too long', { default: [{ ...wordCount, name: 'n'.repeat(65) }] }, /default export\[0\]\.name/],
      [
        'no description',
        { tools: [{ ...wordCount, description: ' ' }] },
        /^my\.mjs: export "tools"\[0\] \(word_count\)\.description: expected a non-empty string/,
      ],
      [
        'a JSON Schema instead of a zod schema',
        { default: [{ ...wordCount, inputSchema: { type: 'object' } }] },
        /\(word_count\)\.inputSchema: expected a zod schema/,
      ],
      [
        'run missing',
        { default: [{ ...wordCount, run: undefined }] },
        /\(word_count\)\.run: expected a function/,
      ],
    ])('names the module and the problem: %s', (_what, exports, message) => {
      expect(problem(() => toolsFromModule(exports, 'my.mjs'))).toMatch(message);
    });

    it('says when the schema is not one zod 4 can turn into JSON Schema (another zod, a look-alike)', () => {
      const lookAlike = { safeParse: () => ({ success: true }), _zod: {} };
      const message = problem(() =>
        toolsFromModule({ default: [{ ...wordCount, inputSchema: lookAlike }] }, 'my.mjs'),
      );
      expect(message).toMatch(/\(word_count\)\.inputSchema: cannot be shown to the model as JSON Schema/);
    });
  });
});

describe('the tool registry', () => {
  it('refuses a tool name the model could not call', () => {
    expect(() => new ToolRegistry([{ ...wordCount, name: 'has space' }])).toThrow(/not valid/);
    expect(() => new ToolRegistry([{ ...wordCount, name: 'ok-name_2' }])).not.toThrow();
  });

  it("shows a tool's own JSON Schema when it brings one (an MCP tool)", () => {
    const jsonSchema = { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] };
    const [described] = new ToolRegistry([
      {
        ...wordCount,
        name: 'srv__echo',
        inputSchema: z.record(z.string(), z.unknown()),
        inputJsonSchema: jsonSchema,
      },
    ]).describe();
    expect(described?.inputSchema).toBe(jsonSchema);
  });
});
