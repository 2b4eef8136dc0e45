import { describe, expect, it } from 'vitest';
import { describeJsonError, parseClientConfig } from '../../../src/protocol/index.ts';

function errorOf(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error('parsed');
}

describe('describeJsonError', () => {
  it('turns "at position N" into the line and column of that position', () => {
    const text = '{\n  "goal": "x",\n  tasks: []\n}';
    expect(describeJsonError(text, errorOf(text))).toBe(
      'Expected double-quoted property name at line 3, column 3',
    );
  });

  it('keeps a message without a position as it is', () => {
    expect(describeJsonError('', new Error('Unexpected end of JSON input'))).toBe(
      'Unexpected end of JSON input',
    );
  });

  it('is what a malformed mcp_client_config.json reports', () => {
    const parsed = parseClientConfig('{\n  "client_agent_id": "w1",\n}');
    expect(parsed).toEqual({
      ok: false,
      field: '(file)',
      message: 'not valid JSON: Expected double-quoted property name at line 3, column 1',
    });
  });
});
