import { describe, expect, it } from 'vitest';
import { TOOL_NAME_PATTERN } from '../../../src/agents/tools/registry.ts';
import { mcpToolName, sanitizeToolName } from '../../../src/agents/tools/tool-names.ts';

describe('MCP tool names', () => {
  it('are <server>__<tool>, keeping letters, digits, _ and -', () => {
    expect(mcpToolName('everything', 'echo', new Set())).toBe('everything__echo');
    expect(mcpToolName('my-files', 'read_file', new Set())).toBe('my-files__read_file');
    expect(mcpToolName('everything', 'get-env', new Set())).toBe('everything__get-env');
  });

  it('replace every other character with _', () => {
    expect(sanitizeToolName('fs.read/file v2')).toBe('fs_read_file_v2');
    expect(mcpToolName('s', 'ünï.côde', new Set())).toBe('s___n__c_de');
    expect(sanitizeToolName('')).toBe('_');
  });

  it('stay within 64 characters, long names kept apart by a hash of the real names', () => {
    const long = 'x'.repeat(80);
    const a = mcpToolName('server', `${long}a`, new Set());
    const b = mcpToolName('server', `${long}b`, new Set());
    expect(a).toHaveLength(64);
    expect(b).toHaveLength(64);
    expect(a).not.toBe(b);
    expect(a).toMatch(TOOL_NAME_PATTERN);
  });

  it('never collide with a taken name (a built-in, or another tool that sanitises the same)', () => {
    const taken = new Set(['s__a_b']);
    expect(mcpToolName('s', 'a.b', taken)).toBe('s__a_b_2');
    expect(mcpToolName('s', 'a/b', taken)).toBe('s__a_b_3');
    expect(taken).toEqual(new Set(['s__a_b', 's__a_b_2', 's__a_b_3']));
  });

  it('always match the pattern the registry accepts', () => {
    const taken = new Set<string>();
    for (const [server, tool] of [
      ['a', '$$$'],
      ['b-1', 'tool with spaces'],
      ['c_2', 'x'.repeat(200)],
      ['c_2', 'x'.repeat(200)],
    ] as const) {
      expect(mcpToolName(server, tool, taken)).toMatch(TOOL_NAME_PATTERN);
    }
    expect(taken.size).toBe(4);
  });
});
