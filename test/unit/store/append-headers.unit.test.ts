import { headers } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { appendHeaders } from '../../../src/store/append-headers.ts';

const decoder = new TextDecoder();

/** What nats.js itself would put on the wire for the same headers (the oracle). */
function natsJsBlock(msgId: string, expected: number | null): string {
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  if (expected !== null) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
  // MsgHdrsImpl encodes; the MsgHdrs interface does not declare it.
  return decoder.decode((h as unknown as { encode(): Uint8Array }).encode());
}

describe('appendHeaders', () => {
  it('encodes the same header block as nats.js, with and without an expected sequence', () => {
    for (const [msgId, expected] of [
      ['claim:g1:t1:r1', 41],
      ['0193f3a8-6c1e-7c4e-9b1a-3f6e2a9d8c7b', null],
      ['x', 0],
    ] as const) {
      expect(decoder.decode(appendHeaders(msgId, expected).encode())).toBe(natsJsBlock(msgId, expected));
    }
  });

  it('refuses a msgId that would break the header block', () => {
    expect(() => appendHeaders('a\r\nNats-Expected-Stream: other', 1)).toThrow(/CR or LF/);
  });
});
