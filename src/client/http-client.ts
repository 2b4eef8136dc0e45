import {
  type ClientConfig,
  type GraphStatus,
  type GraphView,
  type SeqReply,
  type SubmitGraphReply,
  type SubmitGraphRequest,
  type TaskGraph,
  TERMINAL_GRAPH_STATUSES,
  type TrailEvent,
} from '../protocol/index.ts';

/** Where the server is and who is asking. */
export interface AmClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** A bearer token: an admin token submits, cancels and retries; a worker token may read. */
  token: string;
  /** How long one request may take. Default 30000 ms. */
  timeoutMs?: number;
}

/** Per-call options. */
export interface RequestOptions {
  /** Aborts the request (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** One page of `GET /v1/graphs`; pass `nextCursor` as `cursor` for the next one. */
export interface GraphPage {
  graphs: GraphView[];
  nextCursor: string | null;
  /** The read model's stream sequence when the page was read. */
  projectionSeq: number;
}

/** The events that end a graph's trail. */
const LAST_EVENTS = new Set(['GraphSucceeded', 'GraphFailed', 'GraphCancelled', 'GraphPlanningFailed']);

/** A refusal from the server (application/problem+json): its HTTP status and stable `AM_ERR_…` code. */
export class AmApiError extends Error {
  constructor(
    readonly status: number,
    /** The problem's `code` (e.g. `AM_ERR_GRAPH_NOT_FOUND`), or `HTTP_<status>` when the reply had none. */
    readonly code: string,
    /** The problem's `detail`, or `HTTP <status>` when the reply had none. */
    readonly detail: string,
    /** The request field the problem is about, when the server named one. */
    readonly field?: string,
  ) {
    super(`${detail} (${code})`);
    this.name = 'AmApiError';
  }
}

/** The server could not be reached (connection refused, DNS, timeout). */
export class AmNetworkError extends Error {
  constructor(
    /** The server URL the client was given. */
    readonly url: string,
    /** Why: the system error code (`ECONNREFUSED`) when there is one, else the fetch error's message. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach the server at ${url} (${reason})`, options);
    this.name = 'AmNetworkError';
  }
}

/**
 * An HTTP client of the AM API for the people who give AM work: submit a goal or an explicit task graph,
 * read a graph and its audit trail, list graphs, cancel and retry. Every method is one request (or a few,
 * for the helpers that wait); errors are {@link AmApiError} (the server refused) or {@link AmNetworkError}
 * (it could not be reached). Workers use `createWorker` and a transport instead.
 */
export class AmClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(opts: AmClientOptions) {
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** A client from a `mcp_client_config.json` (its `server_url` and `auth_token`). */
  static fromClientConfig(config: Pick<ClientConfig, 'server_url' | 'auth_token'>): AmClient {
    return new AmClient({ url: config.server_url, token: config.auth_token });
  }

  /** `POST /v1/tasks`: a goal (planned by the manager) or an explicit task list. Needs an admin token. */
  submit(request: SubmitGraphRequest, opts: RequestOptions = {}): Promise<SubmitGraphReply> {
    return this.request('POST', '/v1/tasks', request, opts);
  }

  /**
   * `GET /v1/graphs/:id`: the whole TaskGraph. `minSeq` (a `seq` a command answered) waits, up to 5 s on the
   * server, until this server's read model has applied it, so a read sees your own write.
   */
  getGraph(graphId: string, opts: RequestOptions & { minSeq?: number } = {}): Promise<TaskGraph> {
    const query = opts.minSeq === undefined ? '' : `?minSeq=${opts.minSeq}`;
    return this.request('GET', `/v1/graphs/${encodeURIComponent(graphId)}${query}`, undefined, opts);
  }

  /** `GET /v1/graphs`: one page of graphs, newest first. `limit` 1–200, default 50. */
  listGraphs(
    query: { status?: GraphStatus; cursor?: string; limit?: number } = {},
    opts: RequestOptions = {},
  ): Promise<GraphPage> {
    const params = new URLSearchParams();
    if (query.status !== undefined) params.set('status', query.status);
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    return this.request('GET', `/v1/graphs${querySuffix(params)}`, undefined, opts);
  }

  /**
   * `GET /v1/graphs/:id/events`: one page of a graph's audit trail, read from the stream, in order.
   * `limit` 1–10000, default 1000; without `fromSeq` an unknown graph is a 404.
   */
  async events(
    graphId: string,
    opts: RequestOptions & { fromSeq?: number; limit?: number } = {},
  ): Promise<TrailEvent[]> {
    const params = new URLSearchParams();
    if (opts.fromSeq !== undefined) params.set('fromSeq', String(opts.fromSeq));
    if (opts.limit !== undefined) params.set('limit', String(opts.limit));
    const reply = await this.request<{ events: TrailEvent[] }>(
      'GET',
      `/v1/graphs/${encodeURIComponent(graphId)}/events${querySuffix(params)}`,
      undefined,
      opts,
    );
    return reply.events;
  }

  /**
   * The whole audit trail, page after page. With `follow`, it keeps polling (every `pollMs`, default 300)
   * until the event that ends the graph; stop earlier with the signal or by leaving the loop.
   */
  async *trail(
    graphId: string,
    opts: RequestOptions & { fromSeq?: number; follow?: boolean; pollMs?: number } = {},
  ): AsyncGenerator<TrailEvent> {
    const pageSize = 1_000;
    let fromSeq = opts.fromSeq;
    for (;;) {
      const page = await this.events(graphId, {
        ...(fromSeq === undefined ? {} : { fromSeq }),
        limit: pageSize,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
      let ended = false;
      for (const event of page) {
        fromSeq = event.seq + 1;
        if (LAST_EVENTS.has(event.type)) ended = true;
        yield event;
      }
      if (page.length === pageSize) continue;
      if (!opts.follow || ended) return;
      await delay(opts.pollMs ?? 300, opts.signal);
    }
  }

  /**
   * Polls the graph (every `pollMs`, default 250) until it is SUCCEEDED, FAILED or CANCELLED and returns it.
   * Rejects when `timeoutMs` passes first (default: no limit) or the signal aborts.
   */
  async waitForGraph(
    graphId: string,
    opts: RequestOptions & { minSeq?: number; pollMs?: number; timeoutMs?: number } = {},
  ): Promise<TaskGraph> {
    const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
    for (;;) {
      const graph = await this.getGraph(graphId, {
        ...(opts.minSeq === undefined ? {} : { minSeq: opts.minSeq }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
      if (TERMINAL_GRAPH_STATUSES.has(graph.graph.status)) return graph;
      if (Date.now() >= deadline) {
        throw new Error(`graph ${graphId} is still ${graph.graph.status} after ${opts.timeoutMs} ms`);
      }
      await delay(Math.min(opts.pollMs ?? 250, Math.max(0, deadline - Date.now())), opts.signal);
    }
  }

  /** `POST /v1/graphs/:id/cancel` (admin): dispatch stops, claims are voided. */
  cancel(graphId: string, opts: RequestOptions = {}): Promise<SeqReply> {
    return this.request('POST', `/v1/graphs/${encodeURIComponent(graphId)}/cancel`, undefined, opts);
  }

  /** `POST /v1/graphs/:id/retry` (admin): the failed tasks of a `task_failed` graph get a new attempt budget. */
  retry(graphId: string, opts: RequestOptions = {}): Promise<SeqReply> {
    return this.request('POST', `/v1/graphs/${encodeURIComponent(graphId)}/retry`, undefined, opts);
  }

  /**
   * Any route of the API (docs/http-api.md): bearer auth, a JSON body, the parsed JSON reply (null for an
   * empty one). A refusal is an {@link AmApiError}, an unreachable server an {@link AmNetworkError}.
   */
  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<T> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(new URL(path, this.url), {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]),
      });
    } catch (error) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new AmNetworkError(this.url, reason, { cause: error });
    }
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : null) as T;
    let problem: { code?: unknown; detail?: unknown; field?: unknown } = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) problem = parsed;
    } catch {
      // not problem+json
    }
    throw new AmApiError(
      response.status,
      typeof problem.code === 'string' ? problem.code : `HTTP_${response.status}`,
      typeof problem.detail === 'string' ? problem.detail : `HTTP ${response.status}`,
      ...(typeof problem.field === 'string' ? [problem.field] : []),
    );
  }
}

function querySuffix(params: URLSearchParams): string {
  const query = params.toString();
  return query === '' ? '' : `?${query}`;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
