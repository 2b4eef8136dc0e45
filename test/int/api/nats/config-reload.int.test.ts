import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmOverNats, startAmOverNats } from './am-over-nats.ts';

/**
 * Every agent added or revoked reloads the embedded nats-server's users. nats-server 2.9 answers the
 * JetStream API with "jetstream is not enabled" for a moment during each reload (seen here: ~1 read in 8
 * reloads failed), which the store must ride out: stream info, direct gets and consumer creation feed
 * readiness, command handlers and the projector.
 */
describe('a nats-server reloading its users under load', () => {
  let am: AmOverNats;

  beforeAll(async () => {
    am = await startAmOverNats();
    await am.registerWorker('w-reload');
  });

  afterAll(async () => {
    await am?.cleanup();
  });

  it('answers every read and append of the store while it reloads', async () => {
    const store = am.node.ctx.store;
    const subject = store.subjects.agent('w-reload');
    const registered = await store.getLastForSubject(subject);
    expect(registered).not.toBeNull();
    const failures: string[] = [];
    let reads = 0;
    let appends = 0;
    let reloads = 0;
    let stop = false;
    const readLoop = async () => {
      for (; !stop; reads++) await store.lastSeq().catch((e: Error) => failures.push(`read: ${e.message}`));
    };
    const appendLoop = async () => {
      for (; !stop; appends++) {
        await store
          .append({
            // A subject no projector folds into an agent (no RegisterAgent decided it): only the store is tested.
            subject: store.subjects.agent(`reload-probe-${appends % 5}`),
            event: registered!.event,
            expectedLastSubjectSeq: null,
            msgId: randomUUID(),
          })
          .catch((e: Error) => failures.push(`append: ${e.message}`));
      }
    };
    const reloadLoop = async () => {
      for (; reloads < 30; reloads++) {
        await am.embedded.server.reload();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      stop = true;
    };
    await Promise.all([readLoop(), appendLoop(), reloadLoop()]);
    expect(reloads).toBe(30);
    expect(reads).toBeGreaterThan(100);
    expect(appends).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  });
});
