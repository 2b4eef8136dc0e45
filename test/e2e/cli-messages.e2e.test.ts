import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveNatsServerBinary } from '../../src/store/nats-server-process.ts';
import { freePort, makeTempDir } from '../kit/index.ts';
import { am, killAll, spawnProc } from './support/processes.ts';

/** Messages that say what to fix, for mistakes a newcomer makes in the first hour. */
describe('CLI messages that name what to fix', () => {
  const dir = makeTempDir('am-e2e-messages');
  afterAll(async () => {
    await killAll();
  });

  const client = { AM_URL: 'http://127.0.0.1:9', AM_TOKEN: 'x'.repeat(40), AM_HOME: dir };

  it('a client command with no server configured says where it looked', async () => {
    const home = makeTempDir('am-e2e-messages-nohome');
    const proc = am(['graph', '00000000-0000-7000-8000-000000000000'], {
      AM_HOME: home,
      AM_URL: undefined,
      AM_TOKEN: undefined,
      AM_CONFIG_FILE: undefined,
    });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(
      `no server configured: looked for ${join(home, 'admin.json')} (AM_HOME=${home})`,
    );
  });

  it('am submit --graph with a missing file names the file and where it looked', async () => {
    const proc = am(['submit', '--graph', 'no-such-graph.json'], client);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(
      `am: --graph no-such-graph.json: no such file (looked for ${resolve('no-such-graph.json')})`,
    );
  });

  it('am submit --graph with malformed JSON gives the line and column', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{\n  "goal": "g",\n  "tasks": [ { "id": "a", } ]\n}\n');
    const proc = am(['submit', '--graph', file], client);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(new RegExp(`--graph ${file}: not valid JSON: .* at line 3, column \\d+`));
  });

  it('am server with a NATS_URL nobody listens on names the URL and what to check', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const proc = am(['server', '--port', String(await freePort())], {
      NATS_URL: url,
      AM_HOME: dir,
      AM_ADMIN_TOKEN: 'y'.repeat(40),
    });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`cannot connect to NATS at ${url}`);
    expect(proc.output()).toContain('is nats-server running there with JetStream (-js)? Check NATS_URL');
  });

  it('am up names the model endpoint and models, and warns when the openai provider has no key or endpoint', async () => {
    const up = am(['up', '--workers', '0'], {
      AM_HOME: makeTempDir('am-e2e-messages-up'),
      AM_HTTP_PORT: String(await freePort()),
      AM_LLM_PROVIDER: 'openai',
      OPENAI_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
      NATS_URL: undefined,
      AM_ADMIN_TOKEN: undefined,
    });
    await up.waitFor(/Stop with Ctrl-C/, 60_000);
    expect(up.output()).toMatch(
      /agents: +openai-compatible at https:\/\/api\.openai\.com\/v1, models planner \S+, worker \S+, auditor \S+ — WARNING: AM_LLM_PROVIDER=openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set/,
    );
    // With --workers 0 it does not suggest `am submit --wait`, which would wait for ever.
    expect(up.output()).toContain('No worker is running, so submitted graphs wait: start one first');
    expect(up.output()).not.toContain('--wait');
    expect(await up.stop('SIGTERM')).toBe(0);
  });

  it('am server against a NATS without JetStream says to start it with -js', async () => {
    const port = await freePort();
    const nats = spawnProc(resolveNatsServerBinary(), ['-a', '127.0.0.1', '-p', String(port)]);
    await nats.waitFor(/Server is ready/, 10_000);
    const proc = am(['server', '--port', String(await freePort())], {
      NATS_URL: `nats://127.0.0.1:${port}`,
      AM_HOME: dir,
      AM_ADMIN_TOKEN: 'z'.repeat(40),
    });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(
      'JetStream is not enabled on this NATS server — start nats-server with -js',
    );
  });
});
