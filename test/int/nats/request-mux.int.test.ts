import { randomUUID } from 'node:crypto';
import { headers } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NatsNoRespondersError,
  NatsRequestClosedError,
  NatsRequestMux,
  NatsRequestReconnectedError,
  NatsRequestTimeoutError,
} from '../../../src/nats/request-mux.ts';
import { startTestNats, type TestNats } from '../../kit/index.ts';

describe('NatsRequestMux over a real nats-server', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let mux: NatsRequestMux;
  const subject = `mux-test.${randomUUID()}`;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await nats.connect('mux-test');
    const responder = await nats.connect('mux-responder');
    // Echoes the body and a header back, after a delay the request names (to interleave replies).
    responder.subscribe(`${subject}.echo`, {
      callback: (_error, msg) => {
        const delayMs = Number(msg.headers?.get('delay') ?? '0');
        setTimeout(() => msg.respond(`${msg.string()}|${msg.headers?.get('tag') ?? ''}`), delayMs);
      },
    });
    responder.subscribe(`${subject}.silent`, { callback: () => {} });
    await responder.flush();
    mux = new NatsRequestMux(nc);
  });
  afterAll(async () => {
    mux?.close();
    await nats?.cleanup();
  });

  describe('when many requests are in flight at once', () => {
    it('gives every caller its own reply, whatever order the replies come in', async () => {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const h = headers();
          h.set('tag', `t${i}`);
          h.set('delay', String((200 - i) % 7));
          return mux.request(`${subject}.echo`, `body${i}`, { timeoutMs: 5_000, headers: h });
        }),
      );
      expect(replies.map((m) => m.string())).toEqual(Array.from({ length: 200 }, (_, i) => `body${i}|t${i}`));
      expect(mux.pending).toBe(0);
    });
  });

  describe('when told the connection was re-established', () => {
    it('fails the open requests at once, so the caller can resend them, and keeps serving new ones', async () => {
      const startedAt = Date.now();
      const open = mux.request(`${subject}.silent`, 'x', { timeoutMs: 5_000 });
      // Published at the end of this turn (TurnEnd): let it go out first.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      mux.reconnected();
      await expect(open).rejects.toBeInstanceOf(NatsRequestReconnectedError);
      expect(Date.now() - startedAt).toBeLessThan(2_000);
      expect(mux.pending).toBe(0);
      const reply = await mux.request(`${subject}.echo`, 'after', { timeoutMs: 5_000 });
      expect(reply.string()).toBe('after|');
    });
  });

  describe('when nobody subscribes to the subject', () => {
    it('rejects at once with no responders', async () => {
      const startedAt = Date.now();
      await expect(mux.request(`${subject}.nobody`, 'x', { timeoutMs: 5_000 })).rejects.toBeInstanceOf(
        NatsNoRespondersError,
      );
      expect(Date.now() - startedAt).toBeLessThan(2_000);
    });
  });

  describe('when the responder never answers', () => {
    it('rejects with a timeout after about timeoutMs and forgets the request', async () => {
      const startedAt = Date.now();
      await expect(mux.request(`${subject}.silent`, 'x', { timeoutMs: 300 })).rejects.toBeInstanceOf(
        NatsRequestTimeoutError,
      );
      const elapsed = Date.now() - startedAt;
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(2_000);
      expect(mux.pending).toBe(0);
    });
  });

  describe('when the connection closes with requests open', () => {
    it('rejects them as closed', async () => {
      const own = await nats.connect('mux-closing');
      const closing = new NatsRequestMux(own);
      const open = closing.request(`${subject}.silent`, 'x', { timeoutMs: 10_000 });
      await own.close();
      await expect(open).rejects.toBeInstanceOf(NatsRequestClosedError);
      await expect(closing.request(`${subject}.echo`, 'x', { timeoutMs: 1_000 })).rejects.toBeInstanceOf(
        Error,
      );
    });
  });
});
