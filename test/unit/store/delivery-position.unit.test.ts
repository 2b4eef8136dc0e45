import { describe, expect, it } from 'vitest';
import { deliveryPosition } from '../../../src/store/delivery-position.ts';

describe('deliveryPosition', () => {
  it('reads the 9-token ack subject of nats-server 2.9', () => {
    expect(deliveryPosition('$JS.ACK.AM_EVENTS.ord_x1.1.48213.48190.1764580000000000000.17')).toEqual({
      streamSeq: 48213,
      pending: 17,
    });
  });

  it('reads the newer form with domain and account hash, with and without the random suffix', () => {
    const base = '$JS.ACK._.ACCHASH.AM_EVENTS.ord_x1.2.900719925474099.12.1764580000000000000.0';
    expect(deliveryPosition(base)).toEqual({ streamSeq: 900719925474099, pending: 0 });
    expect(deliveryPosition(`${base}.r4nd0m`)).toEqual({ streamSeq: 900719925474099, pending: 0 });
  });

  it('refuses what is not an ack subject, so the caller falls back to nats.js', () => {
    expect(deliveryPosition('')).toBeNull();
    expect(deliveryPosition('_INBOX.abc.1')).toBeNull();
    expect(deliveryPosition('$JS.ACK.S.C.1.2.3')).toBeNull();
    expect(deliveryPosition('$JS.ACK.S.C.1.x2.3.4.5')).toBeNull();
    expect(deliveryPosition('$JS.ACK.S.C.1..3.4.5')).toBeNull();
    expect(deliveryPosition('$JS.ACK.a.b.c.d.e.f.g.h.i.j.k')).toBeNull();
  });
});
