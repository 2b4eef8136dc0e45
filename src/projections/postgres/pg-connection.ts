import pg from 'pg';

/** What the read model asks of a connection: queries (a pg.Client is one). */
export interface PgQueryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface PgConnectOptions {
  /** Shown in pg_stat_activity. Default `am-projections`. */
  applicationName?: string;
  /** Timeout of the connect. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** A query that has not answered after this long fails (and its batch is retried). Default 60000 ms. */
  queryTimeoutMs?: number;
}

/** A connection of the read model; `broken` once it reported an error (it is then replaced, not reused). */
export interface PgConnection {
  readonly client: pg.Client;
  readonly broken: boolean;
  /** Ends the connection; an open transaction is rolled back by the server. Never rejects. */
  close(): Promise<void>;
}

const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;

/**
 * bigint columns (sequences, epoch milliseconds) as numbers (they stay far below 2^53), and timestamptz
 * as the server's text (UTC, see `TimeZone` below): read back into an aggregate and written again, it
 * keeps every microsecond the event's `at` had, where a JS Date would keep milliseconds.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === TIMESTAMPTZ_OID) return (value: string) => value;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Opens one connection to `url` (a `postgres://` URL, as libpq takes it) for the read model. */
export async function connectPostgres(url: string, opts: PgConnectOptions = {}): Promise<PgConnection> {
  const client = new pg.Client({
    connectionString: url,
    application_name: opts.applicationName ?? 'am-projections',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    query_timeout: opts.queryTimeoutMs ?? 60_000,
    keepAlive: true,
    options: '-c TimeZone=UTC',
    types: TYPES,
  });
  let broken = false;
  // A connection that drops while idle reports it here; without a listener the 'error' would end the process.
  client.on('error', () => {
    broken = true;
  });
  client.on('end', () => {
    broken = true;
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    client,
    get broken() {
      return broken;
    },
    close() {
      broken = true;
      closing ??= client.end().catch(() => {});
      return closing;
    },
  };
}

/** `url` with its password replaced by `***`, for messages and logs. */
export function redactPostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(a Postgres connection string)';
  }
}
