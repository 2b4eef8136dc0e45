import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClientConfig } from '../../../src/protocol/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const base = { client_agent_id: 'w1', server_url: 'http://127.0.0.1:8080', auth_token: 'x'.repeat(16) };
const parse = (extra: Record<string, unknown>) => parseClientConfig(JSON.stringify({ ...base, ...extra }));

describe('mcp_client_config.json', () => {
  describe('with tool_modules and mcpServers', () => {
    it('accepts stdio and Streamable HTTP servers in the usual shape, with allowTools and timeoutMs', () => {
      const parsed = parse({
        tool_modules: ['./tools.mjs', '/abs/more.mjs'],
        mcpServers: {
          files: {
            command: 'node',
            args: ['server.js'],
            env: { ROOT: '/data' },
            cwd: 'srv',
            timeoutMs: 5000,
          },
          'remote-1': { url: 'https://tools.example.com/mcp', headers: { Authorization: 'Bearer t' } },
          typed: { type: 'http', url: 'http://127.0.0.1:3001/mcp', allowTools: ['echo'] },
          stdio_typed: { type: 'stdio', command: 'uvx', args: ['mcp-server-time'] },
        },
      });
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.config.mcpServers?.files).toEqual({
        command: 'node',
        args: ['server.js'],
        env: { ROOT: '/data' },
        cwd: 'srv',
        timeoutMs: 5000,
      });
      expect(parsed.config.tool_modules).toEqual(['./tools.mjs', '/abs/more.mjs']);
    });

    it('still accepts a config with neither (admin and worker configs written before)', () => {
      expect(parse({}).ok).toBe(true);
    });

    it('accepts the example of examples/custom-tools', () => {
      const text = readFileSync(join(ROOT, 'examples/custom-tools/worker.example.json'), 'utf8');
      const parsed = parseClientConfig(text);
      expect(parsed).toMatchObject({ ok: true, config: { tool_modules: ['./tools.mjs'] } });
    });
  });

  describe('when an MCP server is wrong', () => {
    it.each([
      [
        'a stdio server without a command',
        { files: { args: ['x'] } },
        'mcpServers.files.command',
        /^Required/,
      ],
      ['a command that is not a string', { files: { command: 3 } }, 'mcpServers.files.command', /string/],
      [
        'an unknown field',
        { files: { command: 'node', bogus: 1 } },
        'mcpServers.files.bogus',
        /unknown field/,
      ],
      [
        'stdio fields on a url server',
        { web: { url: 'http://127.0.0.1:1/mcp', args: ['x'] } },
        'mcpServers.web.args',
        /only for a stdio server/,
      ],
      [
        'headers on a stdio server',
        { s: { command: 'node', headers: { a: 'b' } } },
        'mcpServers.s.headers',
        /url/,
      ],
      ['type http without a url', { web: { type: 'http' } }, 'mcpServers.web.url', /^Required/],
      ['a url that is not http(s)', { web: { url: 'ftp://x/mcp' } }, 'mcpServers.web.url', /./],
      ['a zero timeout', { s: { command: 'node', timeoutMs: 0 } }, 'mcpServers.s.timeoutMs', /1/],
      [
        'an empty allowTools name',
        { s: { command: 'node', allowTools: [''] } },
        'mcpServers.s.allowTools.0',
        /./,
      ],
      ['a name with a space', { 'my files': { command: 'node' } }, 'mcpServers.my files', /server name/],
      ['a name with a dot', { 'a.b': { command: 'node' } }, 'mcpServers.a.b', /server name/],
      [
        'a name longer than 32',
        { ['n'.repeat(33)]: { command: 'node' } },
        `mcpServers.${'n'.repeat(33)}`,
        /1-32/,
      ],
    ])('names the field: %s', (_what, mcpServers, field, message) => {
      const parsed = parse({ mcpServers });
      expect(parsed).toMatchObject({ ok: false, field });
      if (!parsed.ok) expect(parsed.message).toMatch(message);
    });
  });

  describe('when tool_modules is wrong', () => {
    it('names the field', () => {
      expect(parse({ tool_modules: './tools.mjs' })).toMatchObject({ ok: false, field: 'tool_modules' });
      expect(parse({ tool_modules: [''] })).toMatchObject({ ok: false, field: 'tool_modules.0' });
    });
  });

  it('says Required for a missing top-level field, as before', () => {
    const parsed = parseClientConfig(JSON.stringify({ client_agent_id: 'w1', server_url: 'http://x' }));
    expect(parsed).toEqual({ ok: false, field: 'auth_token', message: 'Required' });
  });
});
