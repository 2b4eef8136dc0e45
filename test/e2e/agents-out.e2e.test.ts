import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import { am, killAll, type ServerProc, startServer } from './support/processes.ts';

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
});
