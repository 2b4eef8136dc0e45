import { describe, expect, it } from 'vitest';
import {
  agentPermissions,
  DEFAULT_AM_SUBJECTS,
  natsServerConfig,
  natsUsersInclude,
  servicePermissions,
} from '../../../src/store/nats-config.ts';

describe('NATS permissions', () => {
  describe("an agent's user", () => {
    const worker = agentPermissions(DEFAULT_AM_SUBJECTS, '_INBOX.am-agent-w1');

    it('may publish command requests only', () => {
      expect(worker.publish.allow).toEqual(['am.cmd.v1.>']);
    });

    it("is denied the event stream, the JetStream API and the service's inboxes outright", () => {
      expect(worker.publish.deny).toEqual(expect.arrayContaining(['am.evt.>', '$JS.>']));
      expect(worker.subscribe.deny).toEqual(
        expect.arrayContaining(['am.evt.>', 'am.cmd.v1.>', '_INBOX.am-service.>']),
      );
    });

    it('may hear hints and its own inbox only (not _INBOX.>)', () => {
      expect(worker.subscribe.allow).toEqual(['am.notify.v1.>', '_INBOX.am-agent-w1.>']);
    });

    it('follows custom subjects', () => {
      const custom = agentPermissions(
        { events: 't1.evt', commands: 't1.cmd', notify: 't1.notify' },
        '_INBOX.x',
      );
      expect(custom.publish).toEqual({ allow: ['t1.cmd.>'], deny: expect.arrayContaining(['t1.evt.>']) });
    });
  });

  it('lets the service user append events, use JetStream and serve commands', () => {
    const service = servicePermissions();
    expect(service.publish.allow).toEqual(
      expect.arrayContaining(['$JS.API.>', 'am.evt.>', 'am.notify.v1.>', '_INBOX.>']),
    );
    expect(service.subscribe.allow).toEqual(['am.cmd.v1.>', 'am.notify.v1.>', '_INBOX.am-service.>']);
  });
});

describe('natsServerConfig', () => {
  const users = {
    service: { user: 'svc', password: 'svc-pass' },
    agents: [{ user: 'w', password: { env: 'W_PASS' } }],
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
      natsServerConfig({ ...users, agents: [{ user: 'w', password: { env: 'W PASS; x' } }] }),
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

describe("the agents' users", () => {
  const service = { user: 'am-service', password: { env: 'AM_NATS_SERVICE_PASSWORD' } };
  const agent = { user: 'am-agent-w1', password: `$2b$06$${'A'.repeat(53)}` };

  it('gives each agent its own inbox prefix, derived from its user name', () => {
    const text = natsServerConfig({ service, agents: [agent] });
    expect(text).toContain('user: "am-agent-w1"');
    expect(text).toContain('"_INBOX.am-agent-w1.>"');
    expect(text).not.toMatch(/allow: \["am\.notify\.v1\.>", "_INBOX\.>"\]/);
  });

  it('can include a users file instead, which lists the service user and every agent', () => {
    const config = natsServerConfig({ service, agents: { include: 'am-users.conf' } });
    expect(config).toMatch(/authorization \{\n[^}]*include "am-users\.conf"\n\}/);
    expect(config).not.toContain('user:');
    const users = natsUsersInclude({ service, agents: [agent] });
    expect(users).toMatch(/^# .*\nusers: \[\n/);
    expect(users).toContain('password: $AM_NATS_SERVICE_PASSWORD');
    expect(users).toContain(`password: "${agent.password}"`);
  });
});
