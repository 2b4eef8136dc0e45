import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createToolRegistry } from '../../../src/agents/providers.ts';
import { createHttpGetTool, isAllowed } from '../../../src/agents/tools/http-get.ts';
import { readDependencyTool } from '../../../src/agents/tools/read-dependency.ts';
import { type Tool, type ToolContext, ToolRegistry } from '../../../src/agents/tools/registry.ts';
import { LIMITS } from '../../../src/protocol/index.ts';

const ctx: ToolContext = {
  task: { id: 'b', graphId: 'g', title: 'B', instructions: '', kind: 'work', attempt: 1, cycle: 1 },
  context: { goal: 'goal', dependencies: [{ taskId: 'a', output: 'the output of a' }] },
};

const echo: Tool<{ text: string }> = {
  name: 'echo',
  description: 'echoes',
  inputSchema: z.object({ text: z.string() }),
  run: ({ text }) => text,
};

describe('ToolRegistry', () => {
  describe('when a tool throws', () => {
    it('returns the error as an observation instead of rejecting', async () => {
      const registry = new ToolRegistry([
        {
          name: 'boom',
          description: 'fails',
          inputSchema: z.object({}),
          run: () => {
            throw new Error('disk on fire');
          },
        },
      ]);
      expect(await registry.run('boom', {}, ctx)).toBe('Error: boom failed: disk on fire');
    });
  });

  describe('when the tool is unknown', () => {
    it('says so and lists the tools that exist', async () => {
      const registry = new ToolRegistry([echo]);
      expect(await registry.run('search', {}, ctx)).toBe(
        'Error: unknown tool "search". Available tools: echo.',
      );
    });
  });

  describe('when the input does not match the tool schema', () => {
    it('returns the validation problem as an observation', async () => {
      const registry = new ToolRegistry([echo]);
      expect(await registry.run('echo', { text: 3 }, ctx)).toMatch(/^Error: invalid input for echo: text: /);
    });
  });

  describe('when a tool returns more than the observation cap', () => {
    it('truncates the observation to LIMITS.maxObservationChars and says so', async () => {
      const registry = new ToolRegistry([echo]);
      const observation = await registry.run(
        'echo',
        { text: 'x'.repeat(LIMITS.maxObservationChars * 2) },
        ctx,
      );
      expect(observation).toHaveLength(LIMITS.maxObservationChars);
      expect(observation.startsWith('xxxx')).toBe(true);
      expect(observation).toMatch(/\n\[… truncated \d+ characters\]$/);
    });

    it('honours a smaller configured cap', async () => {
      const registry = new ToolRegistry([echo], { maxObservationChars: 100 });
      expect(await registry.run('echo', { text: 'y'.repeat(500) }, ctx)).toHaveLength(100);
    });
  });

  describe('when the task is aborted while a tool runs', () => {
    it('rethrows instead of making an observation', async () => {
      const controller = new AbortController();
      const registry = new ToolRegistry([
        {
          name: 'slow',
          description: 'waits',
          inputSchema: z.object({}),
          run: () => {
            controller.abort();
            throw new Error('aborted');
          },
        },
      ]);
      await expect(registry.run('slow', {}, { ...ctx, signal: controller.signal })).rejects.toThrow(
        'aborted',
      );
    });
  });

  it('describes each tool with a JSON Schema of its input', () => {
    const [described] = new ToolRegistry([echo]).describe();
    expect(described).toMatchObject({
      name: 'echo',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    });
  });

  it('refuses to register two tools with one name', () => {
    expect(() => new ToolRegistry([echo, echo])).toThrow('registered twice');
  });
});

describe('read_dependency', () => {
  it('returns the output of a dependency from the context', async () => {
    expect(await new ToolRegistry([readDependencyTool]).run('read_dependency', { taskId: 'a' }, ctx)).toBe(
      'the output of a',
    );
  });

  it('names the dependencies that exist when asked for another', async () => {
    expect(await new ToolRegistry([readDependencyTool]).run('read_dependency', { taskId: 'z' }, ctx)).toBe(
      'Error: read_dependency failed: no dependency "z"; this task depends on: a',
    );
  });
});

describe('http_get', () => {
  describe('when no allowlist is configured', () => {
    it('is not offered to the model', () => {
      expect(createHttpGetTool({ allowlist: [] })).toBeNull();
      expect(createToolRegistry({}).names()).toEqual(['calculator', 'read_dependency']);
    });
  });

  describe('isAllowed', () => {
    it.each([
      ['https://api.example.com/v1/items', ['https://api.example.com/v1/'], true],
      ['https://api.example.com/', ['https://api.example.com'], true],
      ['https://api.example.com.evil.test/', ['https://api.example.com'], false],
      ['https://other.example.com/v1/', ['https://api.example.com/v1/'], false],
      ['file:///etc/passwd', ['file:///'], false],
      ['not a url', ['https://api.example.com'], false],
    ])('%s with %j → %s', (url, allowlist, expected) => {
      expect(isAllowed(url, allowlist)).toBe(expected);
    });
  });

  const fakeFetch = (body: string, status = 200, headers: Record<string, string> = {}) =>
    (async () => new Response(body, { status, headers })) as unknown as typeof fetch;

  it('fetches an allowed URL and returns the status and body', async () => {
    const tool = createHttpGetTool({ allowlist: ['https://api.example.com/'], fetch: fakeFetch('hello') })!;
    expect(await tool.run({ url: 'https://api.example.com/a' }, ctx)).toBe('HTTP 200\nhello');
  });

  it('caps the body at maxBytes', async () => {
    const tool = createHttpGetTool({
      allowlist: ['https://api.example.com/'],
      maxBytes: 10,
      fetch: fakeFetch('0123456789abcdef'),
    })!;
    expect(await tool.run({ url: 'https://api.example.com/a' }, ctx)).toBe(
      'HTTP 200\n0123456789\n[… body truncated at 10 bytes]',
    );
  });

  it('does not follow redirects, which could leave the allowlist', async () => {
    const tool = createHttpGetTool({
      allowlist: ['https://api.example.com/'],
      fetch: fakeFetch('', 302, { location: 'https://evil.test/' }),
    })!;
    expect(await tool.run({ url: 'https://api.example.com/a' }, ctx)).toBe(
      'HTTP 302; redirect to https://evil.test/ not followed',
    );
  });

  it('refuses a URL outside the allowlist as an observation', async () => {
    const registry = new ToolRegistry([
      createHttpGetTool({ allowlist: ['https://api.example.com/'], fetch: fakeFetch('x') })!,
    ]);
    expect(await registry.run('http_get', { url: 'https://evil.test/' }, ctx)).toBe(
      'Error: http_get failed: https://evil.test/ is not allowed; allowed prefixes: https://api.example.com/',
    );
  });

  it('times out a slow server', async () => {
    const hanging = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      )) as unknown as typeof fetch;
    const registry = new ToolRegistry([
      createHttpGetTool({ allowlist: ['https://api.example.com/'], timeoutMs: 30, fetch: hanging })!,
    ]);
    expect(await registry.run('http_get', { url: 'https://api.example.com/x' }, ctx)).toBe(
      'Error: http_get failed: GET https://api.example.com/x timed out after 30 ms',
    );
  });
});
