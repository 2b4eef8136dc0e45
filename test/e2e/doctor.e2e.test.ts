import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, startTestNats, type TestNats, testNatsIsExternal } from '../kit/index.ts';
import { am, killAll, type ServerProc, startServer } from './support/processes.ts';

/** `am doctor` against a healthy deployment and broken ones; it exits 1 when a check fails. */
describe.skipIf(testNatsIsExternal())('am doctor', () => {
  let nats: TestNats;
  let server: ServerProc;

  beforeAll(async () => {
    nats = await startTestNats();
    server = await startServer({ natsUrl: nats.url, dir: makeTempDir('am-e2e-doctor') });
  });
  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  async function doctor(env: Record<string, string | undefined>) {
    const proc = am(['doctor'], {
      AM_CONFIG_FILE: undefined,
      AM_HOME: makeTempDir('am-e2e-doctor-home'),
      ...env,
    });
    return { code: await proc.exited, output: proc.output() };
  }

  it('passes a healthy server and its stream, naming what it checked', async () => {
    const { code, output } = await doctor({
      AM_URL: server.url,
      AM_TOKEN: server.adminToken,
      NATS_URL: nats.url,
    });
    expect(output).toMatch(/^ok +server +http:\/\/127\.0\.0\.1:\d+ answers/m);
    expect(output).toMatch(/^ok +token +accepted \(admin role\)/m);
    expect(output).toMatch(/^ok +readiness +ready; read model at seq/m);
    expect(output).toMatch(/^ok +nats server +nats-server \d+\.\d+\.\d+, a single node/m);
    expect(output).toMatch(/^ok +stream replicas +AM_EVENTS: 1 replica/m);
    expect(output).toContain('all checks passed');
    expect(code).toBe(0);
  });

  it('fails a wrong token, saying where it came from and what to do', async () => {
    const { code, output } = await doctor({
      AM_URL: server.url,
      AM_TOKEN: 'am_not-a-token-of-this-server-000',
      NATS_URL: nats.url,
    });
    expect(output).toMatch(
      /^fail +token +the server refused the token from AM_URL\/AM_TOKEN \(AM_ERR_AUTH_INVALID\)/m,
    );
    expect(output).toMatch(/→ use a current token/);
    expect(code).toBe(1);
  });

  it('fails a server that is not there, and skips NATS without NATS_URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, output } = await doctor({ AM_URL: url, AM_TOKEN: server.adminToken, NATS_URL: undefined });
    expect(output).toContain(`fail  server           cannot reach ${url}`);
    expect(output).toMatch(/^skip +stream +NATS_URL is not set here/m);
    expect(code).toBe(1);
  });
});
