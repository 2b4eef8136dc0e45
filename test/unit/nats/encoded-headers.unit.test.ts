import { headers } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { encodeHeaders } from '../../../src/nats/encoded-headers.ts';

const decoder = new TextDecoder();

/** What nats.js itself would put on the wire for the same headers (the oracle). */
function natsJsBlock(pairs: ReadonlyArray<readonly [string, string]>): string {
  const h = headers();
  for (const [name, value] of pairs) h.set(name, value);
  // MsgHdrsImpl encodes; the MsgHdrs interface does not declare it.
  return decoder.decode((h as unknown as { encode(): Uint8Array }).encode());
}

describe('encodeHeaders', () => {
  it('encodes the same header block as nats.js', () => {
    const cases: Array<Array<readonly [string, string]>> = [
      [
        ['Nats-Msg-Id', 'claim:g1:t1:r1'],
        ['Nats-Expected-Last-Subject-Sequence', '41'],
      ],
      [['Nats-Msg-Id', '0193f3a8-6c1e-7c4e-9b1a-3f6e2a9d8c7b']],
      [['authorization', 'Bearer am_abc-DEF_123']],
    ];
    for (const pairs of cases) expect(decoder.decode(encodeHeaders(pairs).encode())).toBe(natsJsBlock(pairs));
  });

  it('refuses a value or a name that would break the header block', () => {
    expect(() => encodeHeaders([['Nats-Msg-Id', 'a\r\nNats-Expected-Stream: other']])).toThrow(/CR or LF/);
    expect(() => encodeHeaders([['Bad: name', 'x']])).toThrow(/invalid header name/);
  });
});
