import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * The observation the model reads for an MCP tool result: its text content, one block per line. Other
 * blocks (images, audio, embedded resources) are named rather than inlined — base64 is no use to a
 * text model and would fill the observation cap. A result with no content but structured content
 * gives that, as JSON.
 */
export function mcpResultText(result: Pick<CallToolResult, 'content' | 'structuredContent'>): string {
  const parts = (result.content ?? []).map((block) => {
    switch (block.type) {
      case 'text':
        return block.text;
      case 'image':
      case 'audio':
        return `[${block.type} ${block.mimeType}, ${Math.floor((block.data.length * 3) / 4)} bytes]`;
      case 'resource':
        return 'text' in block.resource
          ? block.resource.text
          : `[resource ${block.resource.uri}${block.resource.mimeType ? ` (${block.resource.mimeType})` : ''}]`;
      case 'resource_link':
        return `[resource link ${block.uri}${block.name ? ` "${block.name}"` : ''}]`;
      default: {
        const unreachable: never = block;
        // A newer protocol's block type: say what it was rather than fail the call.
        return `[${(unreachable as { type: string }).type} content]`;
      }
    }
  });
  if (parts.length === 0 && result.structuredContent !== undefined) {
    return JSON.stringify(result.structuredContent);
  }
  return parts.join('\n');
}
