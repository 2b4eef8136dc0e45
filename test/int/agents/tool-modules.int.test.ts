import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ToolContext, ToolRegistry } from '../../../src/agents/tools/registry.ts';
import { loadToolModules } from '../../../src/agents/tools/tool-modules.ts';
import { isAppError } from '../../../src/errors.ts';
import { loadClientConfig } from '../../../src/worker/client-config-loader.ts';
import { makeTempDir, removeTempDir } from '../../kit/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const EXAMPLE = join(ROOT, 'examples/custom-tools/tools.mjs');

const ctx: ToolContext = {
  task: { id: 'count', graphId: 'g', title: 'T', instructions: '', kind: 'work', attempt: 1, cycle: 2 },
  context: { goal: 'goal', dependencies: [{ taskId: 'draft', output: 'x' }] },
};

async function loadError(files: string[], reserved: string[] = []): Promise<string> {
  try {
    await loadToolModules(files, { reserved });
  } catch (error) {
    expect(isAppError(error) && error.code).toBe('AM_ERR_CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('loaded');
}

describe('tool modules loaded from files', () => {
  let dir: string;

  beforeAll(() => {
    dir = makeTempDir('am-tool-modules');
  });

  afterAll(() => removeTempDir(dir));

  it('loads the example module of examples/custom-tools, whose tools run in the registry', async () => {
    const tools = await loadToolModules([EXAMPLE], { reserved: ['calculator', 'read_dependency'] });
    const registry = new ToolRegistry(tools);
    expect(registry.names()).toEqual(['word_count', 'task_info']);
    expect(await registry.run('word_count', { text: ' the quick  brown fox ' }, ctx)).toBe(
      '4 words, 22 characters',
    );
    expect(await registry.run('task_info', {}, ctx)).toBe(
      'task count (attempt 1, cycle 2), depends on: draft',
    );
  });

  it('reads a named export "tools", and resolves tool_modules against the config file\'s directory', async () => {
    const module = join(dir, 'named.mjs');
    writeFileSync(
      module,
      `import { z } from ${JSON.stringify(join(ROOT, 'node_modules/zod/index.js'))};
export const tools = [{ name: 'shout', description: 'Upper-cases.', inputSchema: z.object({ text: z.string() }), run: ({ text }) => text.toUpperCase() }];`,
    );
    const config = join(dir, 'worker.json');
    writeFileSync(
      config,
      JSON.stringify({
        client_agent_id: 'w1',
        server_url: 'http://127.0.0.1:1',
        auth_token: 'x'.repeat(16),
        tool_modules: ['./named.mjs', relative(dir, EXAMPLE)],
        mcpServers: {
          here: { command: 'node' },
          there: { command: 'node', cwd: 'sub' },
          web: { url: 'http://h/mcp' },
        },
      }),
    );
    const loaded = loadClientConfig(config);
    expect(loaded.tool_modules).toEqual([module, EXAMPLE]);
    expect(loaded.mcpServers?.here?.cwd).toBe(dir);
    expect(loaded.mcpServers?.there?.cwd).toBe(join(dir, 'sub'));
    expect(loaded.mcpServers?.web?.cwd).toBeUndefined();
    const tools = await loadToolModules(loaded.tool_modules ?? []);
    expect(await new ToolRegistry(tools).run('shout', { text: 'hi' }, ctx)).toBe('HI');
  });

  it('names a module that cannot be imported', async () => {
    const missing = join(dir, 'missing.mjs');
    expect(await loadError([missing])).toMatch(
      new RegExp(
        `^tool_modules\\[0\\] \\(${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): could not be imported: `,
      ),
    );
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'export default [ this is not javascript');
    expect(await loadError([EXAMPLE, broken])).toMatch(
      /^tool_modules\[1\] \(.*broken\.mjs\): could not be imported/,
    );
  });

  it('names a module whose export is not a list of tools', async () => {
    const wrong = join(dir, 'wrong.mjs');
    writeFileSync(wrong, 'export default { name: "x" };');
    expect(await loadError([wrong])).toMatch(
      /^tool_modules\[0\] \(.*wrong\.mjs\): default export: expected an array/,
    );
  });

  it('refuses a tool name already taken by a built-in tool or an earlier module', async () => {
    expect(await loadError([EXAMPLE], ['word_count'])).toMatch(
      /tools\.mjs\): tool "word_count" is already defined by a built-in tool/,
    );
    expect(await loadError([EXAMPLE, EXAMPLE])).toMatch(
      /^tool_modules\[1\] .*: tool "word_count" is already defined by tool_modules\[0\]/,
    );
  });
});
