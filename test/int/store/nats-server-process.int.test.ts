import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectNats } from '../../../src/store/connect.ts';
import {
  defaultGoMaxProcs,
  type NatsServerProcess,
  startNatsServerProcess,
} from '../../../src/store/nats-server-process.ts';
import { freePort, makeTempDir, removeTempDir } from '../../kit/index.ts';

describe('startNatsServerProcess', () => {
  const dirs: string[] = [];
  const servers: NatsServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.kill()));
    for (const dir of dirs.splice(0)) removeTempDir(dir);
  });
  const storeDir = () => {
    const dir = makeTempDir('am-nsp');
    dirs.push(dir);
    return join(dir, 'store');
  };

  it('starts a JetStream server on a free port that accepts connections', async () => {
    const server = await startNatsServerProcess({ storeDir: storeDir() });
    servers.push(server);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.pid).toBeGreaterThan(0);
    const nc = await connectNats({ servers: server.url, reconnect: false });
    try {
      expect(nc.info?.jetstream).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('gives the server GOMAXPROCS: the option, else the environment, else half the cores', async () => {
    const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const pinned = await startNatsServerProcess({ storeDir: storeDir(), goMaxProcs: 3 });
    servers.push(pinned);
    expect(environOf(pinned.pid)).toContain('GOMAXPROCS=3');
    const saved = process.env.GOMAXPROCS;
    try {
      process.env.GOMAXPROCS = '5';
      expect(defaultGoMaxProcs()).toBe(5);
      delete process.env.GOMAXPROCS;
      expect(defaultGoMaxProcs()).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
      const byDefault = await startNatsServerProcess({ storeDir: storeDir() });
      servers.push(byDefault);
      expect(environOf(byDefault.pid)).toContain(`GOMAXPROCS=${defaultGoMaxProcs()}`);
    } finally {
      if (saved === undefined) delete process.env.GOMAXPROCS;
      else process.env.GOMAXPROCS = saved;
    }
  });

  it('restarts on the same port and store with a new process', async () => {
    const server = await startNatsServerProcess({ storeDir: storeDir() });
    servers.push(server);
    const { port, pid } = server;
    await server.kill();
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    const nc = await connectNats({ servers: server.url, reconnect: false });
    await nc.close();
    await server.stop();
    await server.stop();
  });

  describe('when the binary is missing', () => {
    it('fails with how to install nats-server or use NATS_URL', async () => {
      const attempt = startNatsServerProcess({ storeDir: storeDir(), binary: '/nonexistent/nats-server' });
      await expect(attempt).rejects.toThrow(/apt-get install nats-server/);
      await expect(attempt).rejects.toThrow(/NATS_URL/);
    });
  });

  describe('when the requested port is taken', () => {
    let blocker: Server | undefined;
    afterEach(() => {
      blocker?.close();
    });

    it('fails quoting the server log', async () => {
      const port = await freePort();
      blocker = createServer();
      await new Promise<void>((resolve) => blocker?.listen(port, '127.0.0.1', resolve));
      await expect(startNatsServerProcess({ storeDir: storeDir(), port })).rejects.toThrow(
        /address already in use/,
      );
    });
  });
});
