import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import { am, killAll } from './support/processes.ts';

/** `am server` serving HTTPS from AM_TLS_CERT / AM_TLS_KEY (a self-signed certificate made here). */
describe('am server over HTTPS', () => {
  let nats: TestNats;
  let dir: string;
  let cert: string;
  let key: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-tls');
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  function get(url: string, ca: Buffer): Promise<{ status: number; body: string; protocol: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { ca }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol: 'https' }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('listens on https://, answers over TLS, and am doctor reaches it trusting the certificate', async () => {
    const port = await freePort();
    const admin = `tls-admin-${'x'.repeat(32)}`;
    const server = am(['server', '--port', String(port)], {
      NATS_URL: nats.url,
      AM_ADMIN_TOKEN: admin,
      AM_HOME: dir,
      AM_LLM_PROVIDER: 'offline',
      AM_TLS_CERT: cert,
      AM_TLS_KEY: key,
    });
    const [, url] = await server.waitFor(/AM server listening on (\S+)/, 60_000);
    expect(url).toBe(`https://127.0.0.1:${port}`);
    const health = await get(`${url}/healthz`, readFileSync(cert));
    expect(health).toMatchObject({ status: 200 });
    expect(JSON.parse(health.body)).toEqual({ ok: true });
    // Plain HTTP on the same port is not served.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    const doctor = am(['doctor'], {
      AM_URL: url,
      AM_TOKEN: admin,
      NODE_EXTRA_CA_CERTS: cert,
      NATS_URL: undefined,
    });
    expect(await doctor.exited).toBe(0);
    expect(doctor.output()).toMatch(/^ok +server +https:\/\/127\.0\.0\.1:\d+ answers/m);
  });

  it('refuses a certificate without its key, naming both settings', async () => {
    const server = am(['server', '--port', String(await freePort())], {
      NATS_URL: nats.url,
      AM_ADMIN_TOKEN: `tls-admin-${'y'.repeat(32)}`,
      AM_HOME: dir,
      AM_TLS_CERT: cert,
      AM_TLS_KEY: undefined,
    });
    expect(await server.exited).not.toBe(0);
    expect(server.output()).toContain('AM_TLS_KEY: required with AM_TLS_CERT (HTTPS needs both)');
  });
});
