import { setTimeout as sleep } from 'node:timers/promises';
import { context as otelContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import OpenAI, { APIConnectionError, APIError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Usage } from '../protocol/index.ts';
import { correctivePrompt, jsonObjectInstruction } from './prompts.ts';

/** The three roles that each get their own model. */
export type LlmRole = 'planner' | 'worker' | 'auditor';

export type StructuredOutputMode = 'json_schema' | 'json_object';

/** How to reach an OpenAI-compatible endpoint. Nothing here is read from the environment. */
export interface LlmClientConfig {
  /** The endpoint, e.g. `http://127.0.0.1:11434/v1`. Default `https://api.openai.com/v1`. */
  baseURL?: string;
  /** Bearer key. Default: a placeholder, since local servers (Ollama, vLLM) ignore it. */
  apiKey?: string;
  /** A model per role. Default `gpt-4o-mini` for each. */
  models?: Partial<Record<LlmRole, string>>;
  /**
   * `json_schema`: strict structured output. `json_object`: JSON mode with the schema in the prompt,
   * for servers without json_schema support. Default `json_schema`.
   */
  structuredOutput?: StructuredOutputMode;
  /** One HTTP call's timeout (each retry gets a fresh one). Default 60000 ms. */
  timeoutMs?: number;
  /** Retries of one call on 429, 5xx, network errors and timeouts. Default 3. */
  maxRetries?: number;
  /** First backoff delay; doubles per retry. Default 500 ms. */
  backoffBaseMs?: number;
  /** Largest computed backoff delay. Default 8000 ms. */
  backoffMaxMs?: number;
  /** A Retry-After above this is not waited for: the call fails as unavailable. Default 60000 ms. */
  maxRetryAfterMs?: number;
  /** Model calls per structured request, corrective retries included. Default 3. */
  maxOutputAttempts?: number;
  /** Sampling temperature. Default: the server's. */
  temperature?: number;
  /** Replaces global fetch (tests, proxies). */
  fetch?: typeof fetch;
  /** Told of every request to the endpoint and of every structured request that fails (metrics). Default: none. */
  observer?: LlmObserver;
}

/**
 * How one request to the model endpoint ended: `ok` (a valid object), `invalid_output` (an answer that is
 * not one: a corrective call follows, or the request fails), `rate_limited` (429), `server_error` (5xx),
 * `client_error` (another 4xx), `aborted` (the caller's signal), or no answer at all.
 */
export type LlmCallOutcome =
  | 'ok'
  | 'invalid_output'
  | 'timeout'
  | 'unreachable'
  | 'rate_limited'
  | 'server_error'
  | 'client_error'
  | 'aborted'
  | 'failed';

/** One request to the model endpoint (retries and corrective calls are requests of their own). */
export interface LlmCallRecord {
  role: LlmRole;
  /** The structured request's name: `plan`, `audit_report`, `react_step`, `synthesis`, … */
  name: string;
  model: string;
  outcome: LlmCallOutcome;
  /** From sending the request to its answer or failure. */
  durationMs: number;
  /** What the endpoint reported; zero for a failed request. */
  usage: Usage;
}

/** A structured request that failed for good (after its retries and corrective calls). */
export interface LlmFailureRecord {
  role: LlmRole;
  name: string;
  model: string;
  /** AM_ERR_LLM_UNAVAILABLE, AM_ERR_LLM_INVALID_OUTPUT or AM_ERR_LLM_ABORTED. */
  code: string;
}

/**
 * A plain callback interface the client tells what its calls came to; src/agents stays free of any metrics
 * library, and the caller (the CLI) turns these into whatever it exposes. A throwing observer is ignored:
 * observing never fails a call.
 */
export interface LlmObserver {
  onCall?(call: LlmCallRecord): void;
  onFailure?(failure: LlmFailureRecord): void;
}

export const DEFAULT_MODEL = 'gpt-4o-mini';

/** What a refine step says about a schema-valid value: its final form, or what to tell the model. */
export type Refined<U> = { ok: true; value: U } | { ok: false; problem: string };

export interface StructuredRequest<T, U> {
  role: LlmRole;
  /** The schema's name in the response format (letters, digits, `_`, `-`). */
  name: string;
  /** LLM-facing schema: no open objects, `.nullable()` rather than `.optional()`. */
  schema: z.ZodType<T>;
  messages: ChatCompletionMessageParam[];
  /** Checks a schema cannot express (known ids, a DAG, …); a problem triggers a corrective retry. */
  refine?: (value: T) => Refined<U>;
  signal?: AbortSignal;
}

export interface StructuredResponse<U> {
  value: U;
  /** Summed over every call this request made, corrective retries included. */
  usage: Usage;
  model: string;
  /** Model calls made (1 when the first reply was valid). */
  calls: number;
}

/** The seam the agents use: the OpenAI client below, or a scripted stand-in in tests. */
export interface StructuredLlm {
  modelFor(role: LlmRole): string;
  complete<T, U = T>(request: StructuredRequest<T, U>): Promise<StructuredResponse<U>>;
}

export const ZERO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

/**
 * Structured output over the openai SDK. The SDK's own retries are off so the retry policy here
 * (which honours Retry-After and an AbortSignal) is the only one.
 */
export class OpenAiLlmClient implements StructuredLlm {
  private readonly client: OpenAI;
  private readonly mode: StructuredOutputMode;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxOutputAttempts: number;
  private readonly models: Record<LlmRole, string>;
  private readonly temperature: number | undefined;
  private readonly observer: LlmObserver | undefined;

  constructor(config: LlmClientConfig) {
    this.observer = config.observer;
    this.mode = config.structuredOutput ?? 'json_schema';
    this.timeoutMs = config.timeoutMs ?? 60_000;
    this.maxRetries = Math.max(0, config.maxRetries ?? 3);
    this.backoffBaseMs = config.backoffBaseMs ?? 500;
    this.backoffMaxMs = config.backoffMaxMs ?? 8_000;
    this.maxRetryAfterMs = config.maxRetryAfterMs ?? 60_000;
    this.maxOutputAttempts = Math.max(1, config.maxOutputAttempts ?? 3);
    this.temperature = config.temperature;
    this.models = {
      planner: config.models?.planner ?? DEFAULT_MODEL,
      worker: config.models?.worker ?? DEFAULT_MODEL,
      auditor: config.models?.auditor ?? DEFAULT_MODEL,
    };
    // Every credential option is passed explicitly (null when unused) because the SDK would
    // otherwise fall back to OPENAI_* environment variables, and only src/config.ts reads the env.
    this.client = new OpenAI({
      baseURL: config.baseURL ?? 'https://api.openai.com/v1',
      apiKey: config.apiKey ?? 'not-needed',
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: this.timeoutMs,
      logLevel: 'off',
      ...(config.fetch ? { fetch: config.fetch } : {}),
    });
  }

  modelFor(role: LlmRole): string {
    return this.models[role];
  }

  complete<T, U = T>(request: StructuredRequest<T, U>): Promise<StructuredResponse<U>> {
    if (trace.getActiveSpan() === undefined) return this.observedComplete(request);
    // Inside a traced task (or server span): one span per call; role, name and model only, no prompts.
    const span = trace.getTracer('agentmanager-agent').startSpan('am.llm.call', {
      kind: SpanKind.CLIENT,
      attributes: {
        'am.llm.role': request.role,
        'am.llm.name': request.name,
        'am.llm.model': this.models[request.role],
      },
    });
    return otelContext
      .with(trace.setSpan(otelContext.active(), span), () => this.observedComplete(request))
      .catch((error: unknown) => {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof AppError ? error.code : 'AM_ERR_INTERNAL',
        });
        throw error;
      })
      .finally(() => span.end());
  }

  private async observedComplete<T, U>(request: StructuredRequest<T, U>): Promise<StructuredResponse<U>> {
    const onFailure = this.observer?.onFailure;
    const labels: CallLabels | undefined =
      this.observer === undefined
        ? undefined
        : { role: request.role, name: request.name, model: this.models[request.role] };
    if (labels === undefined || onFailure === undefined) return this.completeRequest(request, labels);
    try {
      return await this.completeRequest(request, labels);
    } catch (error) {
      try {
        onFailure.call(this.observer, {
          ...labels,
          code: error instanceof AppError ? error.code : 'AM_ERR_INTERNAL',
        });
      } catch {
        // Observing never changes what a call throws.
      }
      throw error;
    }
  }

  private async completeRequest<T, U>(
    request: StructuredRequest<T, U>,
    observed: CallLabels | undefined,
  ): Promise<StructuredResponse<U>> {
    const model = this.models[request.role];
    const messages = this.withSchemaInstruction(request);
    const responseFormat =
      this.mode === 'json_schema'
        ? zodResponseFormat(request.schema, request.name)
        : ({ type: 'json_object' } as const);
    let usage = ZERO_USAGE;
    let lastProblem = '';
    for (let call = 1; call <= this.maxOutputAttempts; call++) {
      const reply = await this.callWithRetries(
        {
          model,
          messages,
          response_format: responseFormat,
          ...(this.temperature === undefined ? {} : { temperature: this.temperature }),
        },
        request.signal,
        observed,
      );
      usage = addUsage(usage, reply.usage);
      const checked = checkReply(reply.content, request.schema, request.refine);
      this.observeCall(observed, checked.ok ? 'ok' : 'invalid_output', reply.startedAt, reply.usage);
      if (checked.ok) return { value: checked.value, usage, model, calls: call };
      lastProblem = checked.problem;
      messages.push({ role: 'assistant', content: reply.content ?? '' });
      messages.push({ role: 'user', content: correctivePrompt(checked.problem) });
    }
    throw new AppError(
      'AM_ERR_LLM_INVALID_OUTPUT',
      `${request.name}: no valid output after ${this.maxOutputAttempts} calls; last problem: ${lastProblem}`,
      { details: { calls: this.maxOutputAttempts, problem: lastProblem, model } },
    );
  }

  /** Tells the observer of one request to the endpoint; its fault is its own, never the call's. */
  private observeCall(
    labels: CallLabels | undefined,
    outcome: LlmCallOutcome,
    startedAt: number,
    usage: Usage,
  ): void {
    if (labels === undefined) return;
    try {
      this.observer?.onCall?.({ ...labels, outcome, durationMs: performance.now() - startedAt, usage });
    } catch {
      // Observing never fails a model call.
    }
  }

  private withSchemaInstruction<T, U>(request: StructuredRequest<T, U>): ChatCompletionMessageParam[] {
    const messages = [...request.messages];
    if (this.mode === 'json_object') {
      // JSON mode only promises *some* JSON object, so the shape has to travel in the prompt.
      const schema = zodResponseFormat(request.schema, request.name).json_schema.schema;
      messages.unshift({ role: 'system', content: jsonObjectInstruction(JSON.stringify(schema)) });
    }
    return messages;
  }

  private async callWithRetries(
    body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
    signal: AbortSignal | undefined,
    observed: CallLabels | undefined,
  ): Promise<{ content: string | null; usage: Usage; startedAt: number }> {
    for (let retry = 0; ; retry++) {
      throwIfAborted(signal);
      const startedAt = performance.now();
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      let failure: Failure;
      try {
        const completion = await this.client.chat.completions.create(body, {
          signal: combined,
          maxRetries: 0,
        });
        const choice = completion.choices?.[0];
        return {
          content: choice?.message?.content ?? null,
          usage: {
            promptTokens: completion.usage?.prompt_tokens ?? 0,
            completionTokens: completion.usage?.completion_tokens ?? 0,
            totalTokens: completion.usage?.total_tokens ?? 0,
          },
          startedAt,
        };
      } catch (error) {
        if (signal?.aborted) {
          this.observeCall(observed, 'aborted', startedAt, ZERO_USAGE);
          throw abortedError(signal, error);
        }
        failure = classify(error, timeout.signal.aborted, this.timeoutMs, this.client.baseURL);
        this.observeCall(observed, failure.outcome, startedAt, ZERO_USAGE);
      } finally {
        clearTimeout(timer);
      }
      const delay = failure.delayMs ?? this.backoff(retry);
      if (!failure.retryable || retry >= this.maxRetries || delay > this.maxRetryAfterMs) {
        throw new AppError(
          'AM_ERR_LLM_UNAVAILABLE',
          `${failure.message} (after ${retry + 1} request${retry === 0 ? '' : 's'})`,
          { details: { requests: retry + 1, ...(failure.status ? { status: failure.status } : {}) } },
        );
      }
      try {
        await sleep(delay, undefined, signal ? { signal } : undefined);
      } catch (error) {
        throw abortedError(signal, error);
      }
    }
  }

  private backoff(retry: number): number {
    return Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** retry);
  }
}

function checkReply<T, U>(
  content: string | null,
  schema: z.ZodType<T>,
  refine: ((value: T) => Refined<U>) | undefined,
): Refined<U> {
  if (content === null || content.trim() === '') {
    return { ok: false, problem: 'the reply was empty; a JSON object was expected' };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(stripCodeFence(content));
  } catch (error) {
    return { ok: false, problem: `the reply is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
    return { ok: false, problem: `the JSON does not match the schema: ${issues.join('; ')}` };
  }
  // Without a refine step T is the final type; the caller's U defaults to T.
  return refine ? refine(parsed.data) : { ok: true, value: parsed.data as unknown as U };
}

/** Local models in JSON mode often wrap the object in a Markdown fence. */
function stripCodeFence(content: string): string {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(content);
  return fenced ? fenced[1]! : content;
}

/** The role, request name and model of the calls one structured request makes (what an observer is told). */
type CallLabels = Pick<LlmCallRecord, 'role' | 'name' | 'model'>;

interface Failure {
  retryable: boolean;
  delayMs: number | null;
  message: string;
  status?: number;
  outcome: LlmCallOutcome;
}

function classify(error: unknown, timedOut: boolean, timeoutMs: number, endpoint: string): Failure {
  // Our own timer aborts the request, so the SDK reports a timeout as a user abort: check the timer.
  if (timedOut) {
    const message = `the model call to ${endpoint} timed out after ${timeoutMs} ms`;
    return { retryable: true, delayMs: null, message, outcome: 'timeout' };
  }
  if (error instanceof APIConnectionError) {
    // Named, with what sets it: a dead endpoint is most often a wrong OPENAI_BASE_URL.
    const message = `cannot reach the model endpoint ${endpoint} (OPENAI_BASE_URL): ${error.message}`;
    return { retryable: true, delayMs: null, message, outcome: 'unreachable' };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    return {
      retryable,
      delayMs: retryable ? retryAfterMs(error.headers) : null,
      message: `the model endpoint answered ${status}: ${error.message}`,
      status,
      outcome: status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : 'client_error',
    };
  }
  const message = `the model call failed: ${(error as Error).message}`;
  return { retryable: false, delayMs: null, message, outcome: 'failed' };
}

/** `retry-after-ms` (OpenAI's, fractional ms) wins over `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) {
    return Math.ceil(Number(ms));
  }
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return null;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : null;
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal, signal.reason);
}

export function abortedError(signal: AbortSignal | undefined, cause: unknown): AppError {
  const reason = signal?.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new AppError('AM_ERR_LLM_ABORTED', `the model call was aborted${reason}`, { cause });
}
