import type { Command } from 'commander';
import type { McpCommandOptions } from './mcp.run.ts';

/** `am mcp [--config FILE]`: AM as an MCP server over stdio, for MCP clients that start a command. */
export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      "an MCP server over stdio that forwards to a server's /mcp (Claude Desktop, Claude Code, Cursor)",
    )
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (opts: McpCommandOptions) => (await import('./mcp.run.ts')).runMcp(opts));
}
