/**
 * A secret in the config: the value itself (plain, or a bcrypt hash `$2a$…` made with `nats server
 * passwd`), or `{ env }`, a reference the server resolves from its environment at start, so a committed
 * file holds no password.
 */
export type NatsSecret = string | { env: string };

/** A NATS user and its password. */
export interface NatsUserCredentials {
  user: string;
  password: NatsSecret;
}

/** A worker user; `inboxPrefix` narrows the inbox it may subscribe to (the client must use the same). */
export interface NatsWorkerUser extends NatsUserCredentials {
  /** The inbox prefix this user's connection uses (`inboxPrefix` in nats.js). Default `_INBOX`. */
  inboxPrefix?: string;
}

/** The subjects AM uses; permissions are built from them. */
export interface AmSubjects {
  /** Event stream subjects are `<events>.>`. Default `am.evt`. */
  events: string;
  /** Command request subjects are `<commands>.<Operation>`. Default `am.cmd.v1`. */
  commands: string;
  /** Notification subjects (READY hints) are `<notify>.>`. Default `am.notify.v1`. */
  notify: string;
}

export const DEFAULT_AM_SUBJECTS: Readonly<AmSubjects> = Object.freeze({
  events: 'am.evt',
  commands: 'am.cmd.v1',
  notify: 'am.notify.v1',
});

/** A 3-node (or larger) JetStream cluster: every node lists every route, itself included. */
export interface NatsClusterOptions {
  /** The cluster's name; the same on every node. */
  name: string;
  /** Route listen address. Default `0.0.0.0`. */
  host?: string;
  /** Route port. Default 6222. */
  port?: number;
  /**
   * `nats-route://host:port` of every node. Routes are not authenticated here: keep the route port on a
   * private network (or add TLS to the generated text).
   */
  routes: readonly string[];
}

export interface NatsServerConfigOptions {
  /** Client listen address. Default `127.0.0.1`. */
  host?: string;
  /** Client port. Default 4222. */
  port?: number;
  /**
   * JetStream store directory, where the event stream lives. Default: none, for a server started with
   * `-js -sd <dir>` (as startNatsServerProcess does): nats-server 2.9 refuses a store_dir in both places.
   */
  storeDir?: string;
  /** A unique server name; required by JetStream in a cluster. Default: none (the server makes one up). */
  serverName?: string;
  /** The AM processes' user: JetStream, the event stream, the command service and hints. */
  service: NatsUserCredentials;
  /** Worker users: only command requests, READY hints and their replies. */
  workers: readonly NatsWorkerUser[];
  /** The subjects to permit. Default DEFAULT_AM_SUBJECTS. */
  subjects?: Partial<AmSubjects>;
  /** JetStream file store limit, e.g. `10G`. Default: none (the server's own). */
  maxFileStore?: string;
  /** HTTP monitoring port (`/healthz`, `/jsz`). Default: none (off). */
  monitorPort?: number;
  cluster?: NatsClusterOptions;
  /** Comment lines for the top of the file (without `#`). Default: a one-line "generated" note. */
  header?: readonly string[];
}

export interface NatsPermissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
}

/**
 * The AM service user: the JetStream API and its acks and flow control, appends to the event stream,
 * the command queue subscription and replies, READY hints. Nothing else on the server.
 */
export function servicePermissions(subjects: AmSubjects = DEFAULT_AM_SUBJECTS): NatsPermissions {
  return {
    publish: {
      allow: [
        '$JS.API.>',
        '$JS.ACK.>',
        '$JS.FC.>',
        `${subjects.events}.>`,
        `${subjects.commands}.>`,
        `${subjects.notify}.>`,
        '_INBOX.>',
      ],
    },
    subscribe: {
      allow: [`${subjects.commands}.>`, `${subjects.notify}.>`, '_INBOX.>'],
    },
  };
}

/**
 * A worker user: may request commands and hear READY hints and its replies, nothing more; in particular
 * it can neither append events (`am.evt.>`) nor reach the JetStream API (`$JS.API.>`). Requesters need
 * no `allow_responses`. The deny list restates what matters so a later widening of `allow` cannot
 * silently let a worker write the stream.
 */
export function workerPermissions(
  subjects: AmSubjects = DEFAULT_AM_SUBJECTS,
  inboxPrefix = '_INBOX',
): NatsPermissions {
  return {
    publish: {
      allow: [`${subjects.commands}.>`],
      deny: [`${subjects.events}.>`, '$JS.>', '$KV.>', '$O.>', '$SYS.>'],
    },
    subscribe: {
      allow: [`${subjects.notify}.>`, `${inboxPrefix}.>`],
      deny: [`${subjects.commands}.>`, `${subjects.events}.>`, '$JS.>'],
    },
  };
}

/**
 * The text of a nats-server config for AM: client listener, JetStream with its store, optionally a
 * cluster, and `authorization { users }` with the service user and the worker users (DESIGN.md
 * "Interfaces"). The result holds passwords: write it with mode 0600.
 */
export function natsServerConfig(opts: NatsServerConfigOptions): string {
  const subjects: AmSubjects = { ...DEFAULT_AM_SUBJECTS, ...opts.subjects };
  const header = opts.header ?? [
    'Generated by AgentManager (src/store/nats-config.ts). Holds passwords: keep it private (0600).',
  ];
  const lines: string[] = header.map((line) => (line === '' ? '#' : `# ${line}`));
  if (opts.serverName !== undefined) lines.push(`server_name: ${str(opts.serverName)}`);
  lines.push(`listen: ${str(`${opts.host ?? '127.0.0.1'}:${opts.port ?? 4222}`)}`);
  if (opts.monitorPort !== undefined) lines.push(`http_port: ${opts.monitorPort}`);
  lines.push('', 'jetstream {');
  if (opts.storeDir !== undefined) lines.push(`  store_dir: ${str(opts.storeDir)}`);
  if (opts.maxFileStore !== undefined) lines.push(`  max_file_store: ${opts.maxFileStore}`);
  lines.push('}');
  if (opts.cluster) lines.push('', ...clusterBlock(opts.cluster));
  lines.push(
    '',
    'authorization {',
    '  users: [',
    ...userBlock(
      opts.service,
      servicePermissions(subjects),
      'AM processes: JetStream, the event stream, commands, hints.',
    ),
    ...opts.workers.flatMap((worker) =>
      userBlock(
        worker,
        workerPermissions(subjects, worker.inboxPrefix),
        'A worker: command requests, READY hints and its replies only; never the stream.',
      ),
    ),
    '  ]',
    '}',
    '',
  );
  return lines.join('\n');
}

function clusterBlock(cluster: NatsClusterOptions): string[] {
  return [
    'cluster {',
    `  name: ${str(cluster.name)}`,
    `  listen: ${str(`${cluster.host ?? '0.0.0.0'}:${cluster.port ?? 6222}`)}`,
    '  routes: [',
    ...cluster.routes.map((route) => `    ${str(route)}`),
    '  ]',
    '}',
  ];
}

function userBlock(user: NatsUserCredentials, permissions: NatsPermissions, why: string): string[] {
  return [
    '    {',
    `      # ${why}`,
    `      user: ${str(user.user)}`,
    `      password: ${secret(user.password)}`,
    '      permissions: {',
    `        publish: ${rules(permissions.publish)}`,
    `        subscribe: ${rules(permissions.subscribe)}`,
    '      }',
    '    }',
  ];
}

function rules(rule: { allow: string[]; deny?: string[] }): string {
  const allow = `allow: [${rule.allow.map(str).join(', ')}]`;
  return rule.deny === undefined ? `{ ${allow} }` : `{ ${allow}, deny: [${rule.deny.map(str).join(', ')}] }`;
}

function secret(value: NatsSecret): string {
  if (typeof value === 'string') return str(value);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.env))
    throw new Error(`not an environment variable name: ${value.env}`);
  // Unquoted: nats-server resolves `$NAME` from the environment; quoted it would be the literal text.
  return `$${value.env}`;
}

/**
 * A quoted config string. The NATS config format reads JSON-style double-quoted strings, so JSON
 * escaping keeps passwords with `#`, `}` or quotes intact; a bare `$NAME` would be an env reference.
 */
function str(value: string): string {
  return JSON.stringify(value);
}
