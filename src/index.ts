/**
 * The public API of the `agentmanager` package:
 *
 * - the worker SDK: `createWorker` runs the claim → execute → heartbeat → submit loop with your own code
 *   as the handler, over `HttpTransport` or `NatsTransport`; `loadClientConfig` reads the
 *   `mcp_client_config.json` that `am agents add … --out FILE` writes;
 * - `AmClient`, an HTTP client for submitting goals and task graphs and reading graphs and their trails;
 * - the protocol: the zod schemas (and their TypeScript types) of every request, reply, step, result and
 *   view the server and its clients share;
 * - the error codes (`ERRORS`) and `AppError`, which `loadClientConfig` throws;
 * - the `Tool` type for custom tool modules (`tool_modules` in the worker config, docs/tools.md).
 *
 * Importing it loads neither the server (Fastify, SQLite) nor the LLM client: those belong to the `am`
 * command. README.md ("Write a worker in TypeScript") has an example.
 */

export { type Tool, type ToolContext, ToolError } from './agents/tools/registry.ts';
export {
  AmApiError,
  AmClient,
  type AmClientOptions,
  AmNetworkError,
  type GraphPage,
  type RequestOptions,
} from './client/index.ts';
export { AppError, ERRORS, type ErrorCode, isAppError } from './errors.ts';
export * from './protocol/index.ts';
export { loadClientConfig } from './worker/client-config-loader.ts';
export { HttpTransport, type HttpTransportOptions } from './worker/http-transport.ts';
export { NatsTransport, type NatsTransportOptions } from './worker/nats-transport.ts';
export {
  createWorker,
  type TaskInput,
  type TaskOutcome,
  type Worker,
  type WorkerEvent,
  type WorkerHandlers,
  type WorkerOptions,
} from './worker/worker.ts';
export {
  type CallOptions,
  type LinkChange,
  WorkerApiError,
  WorkerNetworkError,
  type WorkerTransport,
} from './worker/worker-transport.ts';
