import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * The Postgres the Postgres read-model tests use: AM_TEST_POSTGRES_URL, default the local server's
 * `postgres` role with trust auth. Each test run creates a database of its own on it and drops it after.
 */
export const TEST_POSTGRES_URL =
  process.env.AM_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Null when Postgres answers at TEST_POSTGRES_URL, else why not (for a skip message). */
export async function postgresUnreachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || String(error) : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A client of the test (default parsers: bigint as string, timestamptz as Date). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** Creates `am_test_<random>` on the test server; drop() removes it (closing what is still connected). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `am_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(name);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return {
    name,
    url,
    async query(sql, values) {
      return (await client.query(sql, values)).rows;
    },
    async drop() {
      await client.end().catch(() => {});
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** TEST_POSTGRES_URL with another database (and optionally another host and port). */
export function databaseUrl(name: string, hostPort?: { host: string; port: number }): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  if (hostPort) {
    url.hostname = hostPort.host;
    url.port = String(hostPort.port);
  }
  return url.toString();
}

export function postgresAddress(): { host: string; port: number } {
  const url = new URL(TEST_POSTGRES_URL);
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The tables both read models have, with the keys their rows are ordered by. */
export const SHARED_TABLES = {
  graphs: 'id',
  tasks: 'graph_id, id',
  results: 'seq',
  audits: 'graph_id, cycle',
  agents: 'id',
  skipped: 'seq',
} as const;

export type SharedTable = keyof typeof SHARED_TABLES;

/**
 * One table of the SQLite read model at `sqlitePath` and of the Postgres one, over the columns both
 * have, each value in one form: JSON text and jsonb as the parsed value, 0/1 and boolean as boolean, ISO
 * text and timestamptz as epoch milliseconds, bigint as a number.
 */
export async function sharedRows(
  sqlitePath: string,
  db: TestDatabase,
  table: SharedTable,
): Promise<{ sqlite: unknown[]; postgres: unknown[]; columns: string[] }> {
  const sqlite = new Database(sqlitePath, { readonly: true });
  try {
    const sqliteColumns = new Set(
      (sqlite.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    );
    const pgColumns = await db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    const shared = pgColumns.filter((c) => sqliteColumns.has(c.column_name));
    const names = shared.map((c) => c.column_name);
    const order = SHARED_TABLES[table];
    const sqliteRows = sqlite
      .prepare(`SELECT ${names.join(', ')} FROM ${table} ORDER BY ${order}`)
      .all() as Record<string, unknown>[];
    const pgRows = await db.query(`SELECT ${names.join(', ')} FROM ${table} ORDER BY ${order}`);
    const normalise = (row: Record<string, unknown>, from: 'sqlite' | 'postgres') =>
      Object.fromEntries(shared.map((c) => [c.column_name, value(row[c.column_name], c.data_type, from)]));
    return {
      sqlite: sqliteRows.map((row) => normalise(row, 'sqlite')),
      postgres: pgRows.map((row) => normalise(row, 'postgres')),
      columns: names,
    };
  } finally {
    sqlite.close();
  }
}

function value(raw: unknown, pgType: string, from: 'sqlite' | 'postgres'): unknown {
  if (raw === null || raw === undefined) return null;
  switch (pgType) {
    case 'jsonb':
      return from === 'sqlite' ? JSON.parse(raw as string) : raw;
    case 'boolean':
      return from === 'sqlite' ? raw === 1 : raw;
    case 'timestamp with time zone':
      return from === 'sqlite' ? Date.parse(raw as string) : (raw as Date).getTime();
    case 'bigint':
    case 'integer':
      return Number(raw);
    default:
      return raw;
  }
}

/** What the events table holds of the stream: how many rows, distinct sequences, and the range. */
export async function eventsCoverage(
  db: TestDatabase,
): Promise<{ rows: number; distinct: number; min: number; max: number }> {
  const [row] = await db.query<{ rows: string; distinct: string; min: string | null; max: string | null }>(
    'SELECT count(*) AS rows, count(DISTINCT seq) AS distinct, min(seq) AS min, max(seq) AS max FROM events',
  );
  return {
    rows: Number(row?.rows ?? 0),
    distinct: Number(row?.distinct ?? 0),
    min: Number(row?.min ?? 0),
    max: Number(row?.max ?? 0),
  };
}

/**
 * A TCP proxy in front of Postgres, to take it away from a client and give it back (a restart or a
 * network cut, as the client sees it) without touching the shared server.
 */
export interface TcpProxy {
  port: number;
  /** Connections made through it so far. */
  readonly connections: number;
  /** Cuts every connection and refuses new ones until resume(). */
  cut(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer((client) => {
        connections += 1;
        const upstream = tcpConnect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        const address = next.address();
        if (typeof address === 'object' && address !== null) port = address.port;
        server = next;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (server === null) return resolve();
      server.close(() => resolve());
      server = null;
    });
  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return connections;
    },
    cut: stop,
    resume: listen,
    close: stop,
  };
}
