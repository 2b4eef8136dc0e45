import { Match, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { AppError, isAppError } from '../../errors.ts';
import { utf8Bytes } from '../../nats/utf8-bytes.ts';
import type { AppContext } from '../../node/app-context.ts';
import { bearerToken } from '../../node/principal.ts';
import { type CommandReply, isReplyInbox } from '../../protocol/index.ts';
import { AgentRateLimit } from '../agent-rate-limit.ts';
import { invoke, OPERATIONS, type Operation } from '../operations.ts';
import { parseInput } from '../parse-input.ts';

export interface CommandServiceOptions {
  ctx: AppContext;
  /**
   * A connection of a user allowed to subscribe `<prefix>.>` and publish replies to `_INBOX.>`. Only
   * requests whose reply subject is an inbox (not the service's own) are answered, or run.
   */
  nc: NatsConnection;
  /** Command subjects are `<prefix>.<Operation>`. Default `am.cmd.v1`. */
  prefix?: string;
  /** Queue group: each request goes to one AM process. Default `am`. */
  queue?: string;
  /** Largest accepted request body. Default 1 MiB. */
  maxBytes?: number;
  /**
   * Requests handled at once by this process; further ones wait in arrival order until one
   * finishes. Long-polling claims count, so keep it well above the number of waiting workers. Default 1024.
   */
  maxConcurrent?: number;
  /** Requests per second per agent before AM_ERR_RATE_LIMITED (as on HTTP). Default 1000. */
  rateLimitPerSec?: number;
}

export interface CommandService {
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Whether this process is in the queue group now (it leaves it while it is not ready). */
  readonly serving: boolean;
  /**
   * Leaves the queue group: requests go to other AM processes (or get "no responders" at once); those
   * already received are still answered. Idempotent.
   */
  pause(): void;
  /** Joins the queue group again. Idempotent; nothing after stop(). */
  resume(): void;
  /**
   * Stops taking requests: ends long-polls (they answer "no work"), drains the subscription so buffered
   * requests are still answered, and resolves when every in-flight request has replied. Idempotent.
   */
  stop(): Promise<void>;
}

const decoder = new TextDecoder();
const operations: Readonly<Record<string, Operation>> = OPERATIONS;

/**
 * The NATS interface: `am.cmd.v1.<Operation>` request/reply in queue group `am`, with the same bodies
 * (HTTP path parameters are body fields), auth (the `authorization` header) and error codes as HTTP,
 * because both dispatch to OPERATIONS. Requests are handled concurrently: a claim may long-poll for
 * up to 30 s and must not hold up a heartbeat behind it.
 */
export function startCommandService(opts: CommandServiceOptions): CommandService {
  const { ctx, nc } = opts;
  const prefix = opts.prefix ?? 'am.cmd.v1';
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const maxConcurrent = Math.max(1, opts.maxConcurrent ?? 1024);
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();
  const rateLimitPerSec = opts.rateLimitPerSec ?? 1_000;
  const limiter = new AgentRateLimit(rateLimitPerSec);

  /** Requests that arrived while `maxConcurrent` were in flight, in arrival order. */
  const waiting: Msg[] = [];
  let allDone: (() => void) | null = null;

  let sub: Subscription | null = null;
  let stopped: Promise<void> | null = null;

  function subscribe(): Subscription {
    // A callback subscription: an async iterator would cost a promise and a microtask turn per request.
    return nc.subscribe(`${prefix}.*`, {
      queue: opts.queue ?? 'am',
      callback: (error, msg) => {
        if (error) {
          // The subscription itself failed (e.g. a permissions violation on subscribe).
          ctx.log.error({ err: error, subject: `${prefix}.*` }, 'command subscription failed');
          return;
        }
        // The requester names the reply subject, and this connection may publish to the stream: a reply
        // to anything but a requester's inbox would be a write on its behalf (e.g. onto a graph's
        // trail). Such a request is not run at all.
        if (msg.reply && !isReplyInbox(msg.reply)) {
          ctx.log.warn(
            { subject: msg.subject, reply: msg.reply },
            'request with a reply subject that is not an inbox dropped',
          );
          return;
        }
        if (inFlight.size >= maxConcurrent) waiting.push(msg);
        else start(msg);
      },
    });
  }

  /** Leaves the queue group; what was already received is still handled. */
  async function unsubscribe(): Promise<void> {
    const current = sub;
    sub = null;
    if (current === null || current.isClosed()) return;
    // Draining needs the server; while NATS is away the interest is simply dropped (nats.js does not
    // renew an unsubscribed subscription on reconnect).
    if (ctx.store.connected) await current.drain().catch(() => current.unsubscribe());
    else current.unsubscribe();
  }

  function start(msg: Msg): void {
    // handle() never rejects: every failure becomes an error reply.
    const work: Promise<void> = handle(msg).finally(() => {
      inFlight.delete(work);
      const next = waiting.shift();
      if (next !== undefined) start(next);
      else if (inFlight.size === 0) allDone?.();
    });
    inFlight.add(work);
  }

  /** Resolves once every request taken so far (in flight or waiting) has replied. */
  function settled(): Promise<void> {
    if (inFlight.size === 0 && waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      allDone = resolve;
    });
  }

  async function handle(msg: Msg): Promise<void> {
    const reply = await replyTo(msg);
    if (!msg.reply) return;
    // Replies of one event-loop turn leave in one socket write, with the turn's appends (see turn-end.ts).
    ctx.turnEnd.send(() => respond(msg, reply));
  }

  async function replyTo(msg: Msg): Promise<CommandReply> {
    const name = msg.subject.slice(prefix.length + 1);
    try {
      const op = Object.hasOwn(operations, name) ? operations[name] : undefined;
      if (!op) throw new AppError('AM_ERR_ROUTE_NOT_FOUND', `unknown operation ${name}`);
      if (msg.data.length > maxBytes) {
        throw new AppError(
          'AM_ERR_PAYLOAD_TOO_LARGE',
          `the request has ${msg.data.length} bytes, at most ${maxBytes}`,
        );
      }
      const principal = ctx.auth.authenticate(tokenOf(msg));
      const retryAfterSec = limiter.take(principal.agentId);
      if (retryAfterSec > 0) {
        throw new AppError('AM_ERR_RATE_LIMITED', `more than ${rateLimitPerSec} requests per second`, {
          details: { retryAfterSec },
        });
      }
      const input = parseInput(op.input, parseBody(msg.data));
      const data = await invoke(
        op,
        ctx,
        principal,
        input,
        stopping.signal,
        msg.headers?.get('traceparent') || undefined,
      );
      return { ok: true, data: data ?? null };
    } catch (error) {
      return errorReply(error, msg.subject);
    }
  }

  function errorReply(error: unknown, subject: string): CommandReply {
    if (!isAppError(error)) ctx.log.error({ err: error, subject }, 'unexpected error in a command');
    const appError = isAppError(error) ? error : new AppError('AM_ERR_INTERNAL', 'internal error');
    const field = appError.details?.field;
    const retryAfterSec = appError.details?.retryAfterSec;
    return {
      ok: false,
      error: {
        status: appError.statusCode,
        code: appError.code,
        detail: appError.message,
        ...(typeof field === 'string' && field !== '' ? { field } : {}),
        ...(typeof retryAfterSec === 'number' ? { retryAfterSec } : {}),
      },
    };
  }

  function respond(msg: Msg, reply: CommandReply): void {
    let payload = utf8Bytes(JSON.stringify(reply));
    const maxPayload = nc.info?.max_payload;
    if (maxPayload !== undefined && payload.length > maxPayload) {
      // A reply NATS cannot carry (e.g. a huge graph): say so rather than leave the requester to time out.
      payload = utf8Bytes(
        JSON.stringify(
          errorReply(
            new AppError(
              'AM_ERR_PAYLOAD_TOO_LARGE',
              `the reply has ${payload.length} bytes, NATS allows ${maxPayload}`,
            ),
            msg.subject,
          ),
        ),
      );
    }
    try {
      msg.respond(payload);
    } catch (error) {
      // The connection closed under us; the requester times out and retries elsewhere.
      ctx.log.warn({ err: error, subject: msg.subject }, 'could not send a command reply');
    }
  }

  // Only a ready node joins the queue group (see Readiness): a stale one would decide on an old view.
  if (ctx.readiness.ready) sub = subscribe();
  return {
    get inFlight() {
      return inFlight.size;
    },
    get serving() {
      return sub !== null;
    },
    pause() {
      void unsubscribe();
    },
    resume() {
      if (sub === null && stopped === null) sub = subscribe();
    },
    stop() {
      stopped ??= (async () => {
        // First end long-polls, so a drain never waits for a 30 s claim; buffered requests still run.
        stopping.abort();
        await unsubscribe();
        await settled();
      })();
      return stopped;
    },
  };
}

/** `authorization: Bearer <token>` (any header case); a bare token is accepted too. */
function tokenOf(msg: Msg): string | undefined {
  const headers = msg.headers;
  if (headers === undefined) return undefined;
  // The exact-case lookup is a map hit; the case-insensitive one scans every header.
  const header = (headers.get('authorization') || headers.get('authorization', Match.IgnoreCase)).trim();
  if (header === undefined || header === '') return undefined;
  if (/^bearer(\s|$)/i.test(header)) return bearerToken(header);
  return header;
}

/** An empty body is `{}` (an operation without input); anything else must be JSON. */
function parseBody(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  try {
    return JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new AppError('AM_ERR_VALIDATION', `body: malformed JSON (${(error as Error).message})`, {
      details: { field: 'body' },
    });
  }
}
