import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import { am, api, killAll, type ServerProc, startServer } from './support/processes.ts';

/** `am agents add --out` for a deployment whose NATS is not the embedded one of `am up`. */
describe('am agents add --out against an external NATS', () => {
  let nats: TestNats;
  let server: ServerProc;
  let dir: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-agents-out');
    server = await startServer({ natsUrl: nats.url, dir });
  });
  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  const env = () => ({ AM_URL: server.url, AM_TOKEN: server.adminToken, AM_HOME: dir, NATS_URL: undefined });
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

  it("writes the --nats-url given, with the agent's own NATS user and password", async () => {
    const file = join(dir, 'a1.json');
    const add = am(
      [
        'agents',
        'add',
        'a1',
        '--role',
        'worker',
        '--out',
        file,
        '--nats-url',
        'tls://nats-1:4222,tls://nats-2:4222',
      ],
      env(),
    );
    expect(await add.exited).toBe(0);
    expect(read(file)).toMatchObject({
      client_agent_id: 'a1',
      nats_url: 'tls://nats-1:4222,tls://nats-2:4222',
      nats_user: 'am-agent-a1',
      nats_password: expect.any(String),
    });
  });

  it('says when it knows no NATS address, rather than writing a file that cannot use NATS silently', async () => {
    const file = join(dir, 'a2.json');
    const add = am(['agents', 'add', 'a2', '--role', 'worker', '--out', file], env());
    expect(await add.exited).toBe(0);
    expect(read(file).nats_url).toBeUndefined();
    expect(add.output()).toContain(`add nats_url to ${file} for --transport nats, or pass --nats-url`);
  });

  it('writes an operator-managed --nats-user without a password, and says to add it', async () => {
    const file = join(dir, 'a3.json');
    const add = am(
      [
        'agents',
        'add',
        'a3',
        '--role',
        'worker',
        '--out',
        file,
        '--nats-url',
        nats.url,
        '--nats-user',
        'team-workers',
      ],
      env(),
    );
    expect(await add.exited).toBe(0);
    const written = read(file);
    expect(written).toMatchObject({ nats_url: nats.url, nats_user: 'team-workers' });
    expect(written.nats_password).toBeUndefined();
    expect(add.output()).toContain(`add nats_password for NATS user team-workers to ${file}`);
  });

  it('am agents rotate ID --out renews the token and the NATS password (the old ones stop working); a revoked id is not added again', async () => {
    const first = join(dir, 'r1.json');
    const second = join(dir, 'r1-rotated.json');
    const add = am(
      ['agents', 'add', 'r1', '--role', 'worker', '--out', first, '--nats-url', nats.url],
      env(),
    );
    expect(await add.exited).toBe(0);
    const rotate = am(['agents', 'rotate', 'r1', '--out', second, '--nats-url', nats.url], env());
    expect({ code: await rotate.exited, output: rotate.output() }).toMatchObject({ code: 0 });
    const before = read(first);
    const after = read(second);
    expect(after).toMatchObject({ client_agent_id: 'r1', nats_user: 'am-agent-r1' });
    expect(after.auth_token).not.toBe(before.auth_token);
    expect(after.nats_password).not.toBe(before.nats_password);
    const claim = (token: unknown) =>
      api(server.url, String(token), 'POST', '/v1/tasks/claim', {
        requestId: crypto.randomUUID(),
        waitMs: 0,
      });
    expect((await claim(before.auth_token)).status).toBe(401);
    expect((await claim(after.auth_token)).status).toBe(204);

    const revoke = am(['agents', 'revoke', 'r1'], env());
    expect(await revoke.exited).toBe(0);
    const again = am(['agents', 'add', 'r1', '--role', 'worker'], env());
    expect(await again.exited).not.toBe(0);
    expect(again.output()).toMatch(/agent r1 was revoked .*ids are not reused.*new id \(e\.g\. r1-2\)/);
  });
});
