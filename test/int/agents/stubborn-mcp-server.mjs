// A stdio MCP server that will not go quietly: it ignores the end of its stdin and SIGTERM, so only a
// SIGKILL ends it (the worker's shutdown must still be bounded). Its one tool, `pid`, says its process id.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

process.on('SIGTERM', () => {});
setInterval(() => {}, 60_000);
const server = new McpServer({ name: 'stubborn', version: '1.0.0' });
server.registerTool('pid', { description: 'Returns the process id.' }, async () => ({
  content: [{ type: 'text', text: String(process.pid) }],
}));
const transport = new StdioServerTransport();
// Without this the transport would end the process when stdin closes.
transport.onclose = () => {};
await server.connect(transport);
process.stdin.on('end', () => {});
