import type { AuditReport, ClaimContext, ClaimedTask, Result, Step } from '../protocol/index.ts';
import { type AuditInput, runAudit } from './auditor.ts';
import {
  type LlmClientConfig,
  OpenAiLlmClient,
  type StructuredLlm,
  throwIfAborted,
  ZERO_USAGE,
} from './llm-client.ts';
import { createLlmStepDecider } from './llm-step-decider.ts';
import { offlineAudit } from './offline/auditor.ts';
import { offlinePlan } from './offline/planner.ts';
import { offlineSynthesize } from './offline/synthesize.ts';
import { OFFLINE_MODEL, OFFLINE_RULES_VERSION } from './offline/text.ts';
import { offlineStepDecider } from './offline/worker.ts';
import { DEFAULT_MAX_PLAN_TASKS, type PlanOutcome, plan } from './planner.ts';
import { DEFAULT_MAX_STEPS, type ExecuteTaskOutcome, executeTask, type StepDecider } from './react-loop.ts';
import { type SynthesisInput, synthesize } from './synthesize.ts';
import { calculatorTool } from './tools/calculator.ts';
import { createHttpGetTool, type HttpGetOptions } from './tools/http-get.ts';
import { readDependencyTool } from './tools/read-dependency.ts';
import { type AnyTool, ToolRegistry } from './tools/registry.ts';

export type ProviderChoice = 'auto' | 'openai' | 'offline';
export type ProviderName = 'openai' | 'offline';

/** Everything the agents need; the caller (src/config.ts via the CLI) builds it. */
export interface AgentsConfig {
  /**
   * `openai`, `offline`, or `auto`: openai when `llm.baseURL` or `llm.apiKey` is set, else offline.
   * Default `auto`.
   */
  provider?: ProviderChoice;
  /** The OpenAI-compatible endpoint, models and retry policy (used by the openai provider). */
  llm?: LlmClientConfig;
  /** ReAct steps per task before it fails. Default 8. */
  maxSteps?: number;
  /** Largest plan accepted from the planner model. Default 12. */
  maxPlanTasks?: number;
  /** The http_get tool; off unless `allowlist` has at least one URL prefix. Default off. */
  httpGet?: HttpGetOptions;
  /** More tools for the worker, after calculator, read_dependency and http_get. */
  extraTools?: AnyTool[];
  /** Replaces the openai client (tests with a scripted model). Implies the openai provider. */
  llmClient?: StructuredLlm;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ExecuteOptions extends CallOptions {
  /** Called with each ReAct step as it is recorded. */
  onStep?: (step: Step, index: number) => void;
}

/** The agent operations, bound to one provider. */
export interface Agents {
  readonly provider: ProviderName;
  plan(goal: string, options?: CallOptions): Promise<PlanOutcome>;
  executeTask(
    task: ClaimedTask,
    context: ClaimContext,
    options?: ExecuteOptions,
  ): Promise<ExecuteTaskOutcome>;
  runAudit(input: AuditInput, options?: CallOptions): Promise<AuditReport>;
  synthesize(input: SynthesisInput, options?: CallOptions): Promise<Result>;
}

export function resolveProvider(config: AgentsConfig): ProviderName {
  const choice = config.provider ?? 'auto';
  switch (choice) {
    case 'openai':
    case 'offline':
      return choice;
    case 'auto':
      return config.llmClient || config.llm?.baseURL || config.llm?.apiKey ? 'openai' : 'offline';
    default: {
      const unreachable: never = choice;
      return unreachable;
    }
  }
}

/** The worker's tools: calculator, read_dependency, http_get when allowed, then any extra ones. */
export function createToolRegistry(config: Pick<AgentsConfig, 'httpGet' | 'extraTools'>): ToolRegistry {
  const registry = new ToolRegistry();
  registry.register(calculatorTool);
  registry.register(readDependencyTool);
  const httpGet = config.httpGet ? createHttpGetTool(config.httpGet) : null;
  if (httpGet) registry.register(httpGet);
  for (const tool of config.extraTools ?? []) registry.register(tool);
  return registry;
}

/** Builds the agents for the configured provider. */
export function createAgents(config: AgentsConfig = {}): Agents {
  const provider = resolveProvider(config);
  const tools = createToolRegistry(config);
  const maxSteps = config.maxSteps ?? DEFAULT_MAX_STEPS;
  switch (provider) {
    case 'offline':
      return createOfflineAgents(tools, maxSteps);
    case 'openai':
      return createLlmAgents(
        config.llmClient ?? new OpenAiLlmClient(config.llm ?? {}),
        tools,
        maxSteps,
        config,
      );
    default: {
      const unreachable: never = provider;
      return unreachable;
    }
  }
}

function createOfflineAgents(tools: ToolRegistry, maxSteps: number): Agents {
  const synthesizeOffline = async (input: SynthesisInput, options: CallOptions = {}) => {
    throwIfAborted(options.signal);
    return offlineSynthesize(input);
  };
  return {
    provider: 'offline',
    async plan(goal, options = {}) {
      throwIfAborted(options.signal);
      return {
        tasks: offlinePlan(goal),
        model: OFFLINE_MODEL,
        promptVersion: OFFLINE_RULES_VERSION,
        usage: ZERO_USAGE,
      };
    },
    executeTask: (task, context, options = {}) =>
      executeTask(
        task,
        context,
        executeDeps(offlineStepDecider, tools, maxSteps, synthesizeOffline, options),
      ),
    async runAudit(input, options = {}) {
      throwIfAborted(options.signal);
      return offlineAudit(input);
    },
    synthesize: synthesizeOffline,
  };
}

function createLlmAgents(
  llm: StructuredLlm,
  tools: ToolRegistry,
  maxSteps: number,
  config: AgentsConfig,
): Agents {
  const decider = createLlmStepDecider(llm);
  const synthesizeLlm = (input: SynthesisInput, options: CallOptions = {}) =>
    synthesize(input, { llm, ...withSignal(options) });
  return {
    provider: 'openai',
    plan: (goal, options = {}) =>
      plan(goal, { llm, maxTasks: config.maxPlanTasks ?? DEFAULT_MAX_PLAN_TASKS, ...withSignal(options) }),
    executeTask: (task, context, options = {}) =>
      executeTask(task, context, executeDeps(decider, tools, maxSteps, synthesizeLlm, options)),
    runAudit: (input, options = {}) => runAudit(input, { llm, ...withSignal(options) }),
    synthesize: synthesizeLlm,
  };
}

function executeDeps(
  decider: StepDecider,
  tools: ToolRegistry,
  maxSteps: number,
  synthesizeFn: (input: SynthesisInput, options: CallOptions) => Promise<Result>,
  options: ExecuteOptions,
) {
  return {
    decider,
    tools,
    maxSteps,
    synthesize: synthesizeFn,
    ...withSignal(options),
    ...(options.onStep ? { onStep: options.onStep } : {}),
  };
}

// Keeps `signal` absent rather than present-and-undefined in the options objects passed on.
function withSignal(options: CallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
