import { inboxPrefixOf, SERVICE_INBOX_PREFIX } from '../protocol/index.ts';

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

/**
 * An agent's own NATS user (`am-agent-<agentId>`, see natsUserOf): it may reach only the command
 * service, the READY hints and its own inbox, whose prefix is derived from the user name.
 */
export interface NatsAgentUser extends NatsUserCredentials {
  /** The inbox prefix this user's connection uses (`inboxPrefix` in nats.js). Default `_INBOX.<user>`. */
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
  /**
   * The agents' users: only command requests, READY hints and their own replies. Or `{ include }`: the
   * path of a file holding the whole `users: [...]` list (see natsUsersInclude), which an AM server
   * rewrites as agents come and go. nats-server reads it relative to the config file's directory (2.9
   * joins even an absolute path to it), so give a path relative to the config.
   */
  agents: readonly NatsAgentUser[] | { include: string };
  /** The subjects to permit. Default DEFAULT_AM_SUBJECTS. */
  subjects?: Partial<AmSubjects>;
  /** JetStream file store limit, e.g. `10G`. Default: none (the server's own). */
  maxFileStore?: string;
  /** HTTP monitoring port (`/healthz`, `/jsz`). Default: none (off). */
  monitorPort?: number;
  /** Where the server writes its pid (`pid_file`), for an AM server that signals reloads. Default: none. */
  pidFile?: string;
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
 * the command queue subscription and replies to any inbox, READY hints. It reads only inboxes under
 * `_INBOX.am-service` (its connections use that prefix), so its stream deliveries — every goal, output
 * and claim — go where no agent may subscribe.
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
      allow: [`${subjects.commands}.>`, `${subjects.notify}.>`, `${SERVICE_INBOX_PREFIX}.>`],
    },
  };
}

/**
 * An agent's user: may request commands and hear READY hints and the replies in its own inbox, nothing
 * more; in particular it can neither append events (`am.evt.>`) nor reach the JetStream API (`$JS.>`),
 * nor read another agent's inbox or the service's (`_INBOX.>` is not its to subscribe). Requesters need
 * no `allow_responses`. The deny list restates what matters so a later widening of `allow` cannot
 * silently let an agent write the stream.
 */
export function agentPermissions(subjects: AmSubjects, inboxPrefix: string): NatsPermissions {
  return {
    publish: {
      allow: [`${subjects.commands}.>`],
      deny: [`${subjects.events}.>`, '$JS.>', '$KV.>', '$O.>', '$SYS.>'],
    },
    subscribe: {
      allow: [`${subjects.notify}.>`, `${inboxPrefix}.>`],
      deny: [`${subjects.commands}.>`, `${subjects.events}.>`, '$JS.>', `${SERVICE_INBOX_PREFIX}.>`],
    },
  };
}

/**
 * The text of a nats-server config for AM: client listener, JetStream with its store, optionally a
 * cluster, and `authorization { users }` with the service user and the agents' users (DESIGN.md
 * "Interfaces"), or an include of the file that lists them. The result may hold passwords: write it with
 * mode 0600.
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
  if (opts.pidFile !== undefined) lines.push(`pid_file: ${str(opts.pidFile)}`);
  lines.push('', 'jetstream {');
  if (opts.storeDir !== undefined) lines.push(`  store_dir: ${str(opts.storeDir)}`);
  if (opts.maxFileStore !== undefined) lines.push(`  max_file_store: ${opts.maxFileStore}`);
  lines.push('}');
  if (opts.cluster) lines.push('', ...clusterBlock(opts.cluster));
  lines.push('', 'authorization {');
  if ('include' in opts.agents) {
    lines.push(
      `  # The users: the service user and one per agent, rewritten by AM as agents come and go.`,
      `  include ${str(opts.agents.include)}`,
    );
  } else {
    lines.push(...usersList(opts.service, opts.agents, subjects).map((line) => `  ${line}`));
  }
  lines.push('}', '');
  return lines.join('\n');
}

/**
 * The text of a users file for `authorization { include "<file>" }`: the service user and each agent's
 * user. nats-server reads it at start and on every reload (SIGHUP), so an AM server that rewrites it and
 * signals the server adds and removes agents without a restart; a removed user's connections are closed.
 */
export function natsUsersInclude(opts: {
  service: NatsUserCredentials;
  agents: readonly NatsAgentUser[];
  subjects?: Partial<AmSubjects>;
  header?: readonly string[];
}): string {
  const subjects: AmSubjects = { ...DEFAULT_AM_SUBJECTS, ...opts.subjects };
  const header = opts.header ?? [
    'Generated by AgentManager: the users of its nats-server. Rewritten as agents change.',
  ];
  return [...header.map((line) => `# ${line}`), ...usersList(opts.service, opts.agents, subjects), ''].join(
    '\n',
  );
}

function usersList(
  service: NatsUserCredentials,
  agents: readonly NatsAgentUser[],
  subjects: AmSubjects,
): string[] {
  return [
    'users: [',
    ...userBlock(
      service,
      servicePermissions(subjects),
      'AM processes: JetStream, the event stream, commands, hints.',
    ),
    ...agents.flatMap((agent) =>
      userBlock(
        agent,
        agentPermissions(subjects, agent.inboxPrefix ?? inboxPrefixOf(agent.user)),
        'An agent: command requests, READY hints and its own inbox only; never the stream.',
      ),
    ),
    ']',
  ];
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
    '  {',
    `    # ${why}`,
    `    user: ${str(user.user)}`,
    `    password: ${secret(user.password)}`,
    '    permissions: {',
    `      publish: ${rules(permissions.publish)}`,
    `      subscribe: ${rules(permissions.subscribe)}`,
    '    }',
    '  }',
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
