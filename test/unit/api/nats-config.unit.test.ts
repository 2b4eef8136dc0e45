import { describe, expect, it } from 'vitest';
import { natsServerConfig, servicePermissions, workerPermissions } from '../../../src/store/nats-config.ts';

describe('NATS permissions', () => {
  describe('a worker user', () => {
    const worker = workerPermissions();

    it('may publish command requests only', () => {
      expect(worker.publish.allow).toEqual(['am.cmd.v1.>']);
    });

    it('is denied the event stream and the JetStream API outright', () => {
      expect(worker.publish.deny).toEqual(expect.arrayContaining(['am.evt.>', '$JS.>']));
      expect(worker.subscribe.deny).toEqual(expect.arrayContaining(['am.evt.>', 'am.cmd.v1.>']));
    });

    it('may hear hints and its own inbox, under the prefix it was given', () => {
      expect(worker.subscribe.allow).toEqual(['am.notify.v1.>', '_INBOX.>']);
      expect(workerPermissions(undefined, '_INBOX_w1').subscribe.allow).toContain('_INBOX_w1.>');
    });

    it('follows custom subjects', () => {
      const custom = workerPermissions({ events: 't1.evt', commands: 't1.cmd', notify: 't1.notify' });
      expect(custom.publish).toEqual({ allow: ['t1.cmd.>'], deny: expect.arrayContaining(['t1.evt.>']) });
    });
  });

  it('lets the service user append events, use JetStream and serve commands', () => {
    const service = servicePermissions();
    expect(service.publish.allow).toEqual(
      expect.arrayContaining(['$JS.API.>', 'am.evt.>', 'am.notify.v1.>', '_INBOX.>']),
    );
    expect(service.subscribe.allow).toEqual(expect.arrayContaining(['am.cmd.v1.>', '_INBOX.>']));
  });
});

describe('natsServerConfig', () => {
  const users = {
    service: { user: 'svc', password: 'svc-pass' },
    workers: [{ user: 'w', password: { env: 'W_PASS' } }],
  };

  it('leaves store_dir out when none is given (the server gets -sd on its command line)', () => {
    const text = natsServerConfig(users);
    expect(text).toMatch(/jetstream \{\n\}/);
    expect(text).not.toContain('store_dir');
    expect(natsServerConfig({ ...users, storeDir: '/data/js' })).toContain('store_dir: "/data/js"');
  });

  it('writes an env password unquoted, so the server resolves it, and a literal one quoted', () => {
    const text = natsServerConfig(users);
    expect(text).toContain('password: $W_PASS');
    expect(text).toContain('password: "svc-pass"');
  });

  it('refuses an env reference that is not a variable name', () => {
    expect(() =>
      natsServerConfig({ ...users, workers: [{ user: 'w', password: { env: 'W PASS; x' } }] }),
    ).toThrow(/environment variable/);
  });

  it('writes a cluster block with every route', () => {
    const text = natsServerConfig({
      ...users,
      serverName: 'n1',
      cluster: { name: 'am', routes: ['nats-route://a:6222', 'nats-route://b:6222'] },
    });
    expect(text).toContain('server_name: "n1"');
    expect(text).toMatch(/cluster \{\n {2}name: "am"\n {2}listen: "0\.0\.0\.0:6222"/);
    expect(text).toContain('"nats-route://b:6222"');
  });
});
