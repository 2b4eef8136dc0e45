import { setTimeout as sleep } from 'node:timers/promises';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  ErrorCode,
  isInitializeRequest,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import pino, { type Logger } from 'pino';
import { type Config, loadConfig } from '../../config.ts';
import { stopWithin, untilSignal } from '../process-signals.ts';
import { type ClientTarget, resolveClient } from '../resolve-client.ts';

export interface McpCommandOptions {
  config?: string;
}

/**
 * What `am mcp` does (its options are in mcp.ts): an MCP server on stdin/stdout for clients that start
 * a command, forwarding every JSON-RPC message to a server's `/mcp` and every answer back. stdout
 * carries the protocol and nothing else; logs go to stderr. It ends on stdin's end (after the answers
 * in flight, for a bounded time), on SIGTERM/SIGINT, or when stdout is closed.
 */
export async function runMcp(opts: McpCommandOptions): Promise<void> {
  const config = loadConfig();
  const target = resolveClient(config, opts.config);
  const log = stderrLogger(config);
  const bridge = new StdioToHttpBridge(target, log);
  await bridge.start();
  log.info({ url: bridge.url, source: target.source }, 'am mcp: forwarding stdio');
  const reason = await Promise.race([untilSignal(), bridge.inputEnded]);
  log.info({ reason }, 'am mcp: stopping');
  await stopWithin(
    config.AM_SHUTDOWN_TIMEOUT_MS,
    () => bridge.stop(reason === 'stdin ended' ? config.AM_SHUTDOWN_TIMEOUT_MS / 2 : 0),
    () => log.error({ timeoutMs: config.AM_SHUTDOWN_TIMEOUT_MS }, 'am mcp: stop overran; exiting'),
  );
}

/** The process logger, on stderr: stdout belongs to the protocol. */
function stderrLogger(config: Pick<Config, 'AM_LOG_LEVEL'>): Logger {
  return pino(
    {
      name: 'am-mcp',
      level: config.AM_LOG_LEVEL,
      redact: { paths: ['authorization', 'headers.authorization', 'token'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/**
 * Forwards messages between a StdioServerTransport (the MCP client that started us) and a
 * StreamableHTTPClientTransport (the server). Each message is sent at once, so a long-polling
 * claim_task does not hold up the others. A request the server cannot be asked (unreachable, token
 * refused) is answered here with a JSON-RPC error, so the client is never left waiting.
 */
class StdioToHttpBridge {
  readonly url: URL;
  /** Resolves when stdin ends: the client is gone or has nothing more to ask. */
  readonly inputEnded: Promise<'stdin ended'>;
  readonly #upstream: StreamableHTTPClientTransport;
  readonly #downstream = new StdioServerTransport();
  readonly #pending = new Set<Promise<void>>();
  /** Ids of `initialize` requests in flight: their answer names the protocol version to send after. */
  readonly #initializing = new Set<RequestId>();
  #stopping = false;

  constructor(
    private readonly target: ClientTarget,
    private readonly log: Logger,
  ) {
    this.url = new URL(`${target.url.replace(/\/+$/, '')}/mcp`);
    this.#upstream = new StreamableHTTPClientTransport(this.url, {
      requestInit: { headers: { authorization: `Bearer ${target.token}` } },
    });
    this.inputEnded = new Promise((resolve) => {
      process.stdin.once('end', () => resolve('stdin ended'));
      process.stdin.once('close', () => resolve('stdin ended'));
    });
  }

  async start(): Promise<void> {
    this.#upstream.onmessage = (message) => this.#deliver(message);
    // Failed sends are answered in #forward; this hears about them too, and about the GET stream.
    this.#upstream.onerror = (error) => this.log.debug({ err: error }, 'upstream transport error');
    this.#downstream.onmessage = (message) => this.#forward(message);
    this.#downstream.onerror = (error) => this.log.warn({ err: error }, 'unreadable message on stdin');
    await this.#upstream.start();
    await this.#downstream.start();
  }

  /**
   * Waits up to `drainMs` for the answers in flight, then closes both sides (closing the upstream aborts
   * what is still being asked; the server aborts the call too, and a retried claim with the same
   * requestId gets the same task).
   */
  async stop(drainMs: number): Promise<void> {
    if (drainMs > 0 && this.#pending.size > 0) {
      const timer = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.#pending]),
        sleep(drainMs, undefined, { signal: timer.signal }).catch(() => {}),
      ]);
      timer.abort();
    }
    this.#stopping = true;
    await Promise.allSettled([this.#upstream.close(), this.#downstream.close()]);
  }

  #forward(message: JSONRPCMessage): void {
    if (this.#stopping) return;
    if (isInitializeRequest(message) && isJSONRPCRequest(message)) this.#initializing.add(message.id);
    const sent = this.#upstream.send(message).catch((error: unknown) => this.#refuse(message, error));
    this.#pending.add(sent);
    void sent.finally(() => this.#pending.delete(sent));
  }

  #deliver(message: JSONRPCMessage): void {
    if (isJSONRPCResultResponse(message) && this.#initializing.delete(message.id)) {
      const version = message.result.protocolVersion;
      if (typeof version === 'string') this.#upstream.setProtocolVersion(version);
    }
    void this.#downstream.send(message).catch((error: unknown) => {
      this.log.warn({ err: error }, 'could not write to stdout');
    });
  }

  async #refuse(message: JSONRPCMessage, error: unknown): Promise<void> {
    if (isJSONRPCRequest(message)) this.#initializing.delete(message.id);
    if (this.#stopping) return;
    const reason = this.#explain(error);
    this.log.warn({ method: 'method' in message ? message.method : undefined, reason }, 'forward failed');
    if (!isJSONRPCRequest(message)) return;
    await this.#downstream.send({
      jsonrpc: '2.0',
      id: message.id,
      error: { code: ErrorCode.InternalError, message: `am mcp: ${reason}` },
    });
  }

  #explain(error: unknown): string {
    if (error instanceof StreamableHTTPError && error.code === 401) {
      return `the server at ${this.target.url} refused the token from ${this.target.source} (HTTP 401)`;
    }
    if (error instanceof StreamableHTTPError) return error.message;
    if (error instanceof TypeError) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return `cannot reach the server at ${this.target.url} (${cause?.code ?? cause?.message ?? error.message}) — is it running?`;
    }
    return error instanceof Error ? error.message : String(error);
  }
}
