import { describe, expect, it } from 'vitest';
import { mcpResultText } from '../../../src/agents/tools/mcp-result.ts';

describe('the observation of an MCP tool result', () => {
  it('is the text content, one block per line', () => {
    expect(
      mcpResultText({
        content: [
          { type: 'text', text: 'Echo: hi' },
          { type: 'text', text: 'second' },
        ],
      }),
    ).toBe('Echo: hi\nsecond');
  });

  it('names images, audio, resources and links instead of inlining them', () => {
    const text = mcpResultText({
      content: [
        { type: 'image', mimeType: 'image/png', data: 'AAAA' },
        { type: 'audio', mimeType: 'audio/wav', data: 'AAAAAAAA' },
        { type: 'resource', resource: { uri: 'file:///a.txt', text: 'inline text' } },
        {
          type: 'resource',
          resource: { uri: 'file:///b.bin', blob: 'AAAA', mimeType: 'application/octet-stream' },
        },
        { type: 'resource_link', uri: 'file:///c.txt', name: 'c' },
      ],
    });
    expect(text.split('\n')).toEqual([
      '[image image/png, 3 bytes]',
      '[audio audio/wav, 6 bytes]',
      'inline text',
      '[resource file:///b.bin (application/octet-stream)]',
      '[resource link file:///c.txt "c"]',
    ]);
  });

  it('is the structured content as JSON when there is no content block', () => {
    expect(mcpResultText({ content: [], structuredContent: { sum: 3 } })).toBe('{"sum":3}');
    expect(mcpResultText({ content: [] })).toBe('');
  });
});
