export { type AuditInput, checkAuditReport, type RunAuditDeps, runAudit } from './auditor.ts';
export {
  addUsage,
  DEFAULT_MODEL,
  type LlmCallOutcome,
  type LlmCallRecord,
  type LlmClientConfig,
  type LlmFailureRecord,
  type LlmObserver,
  type LlmRole,
  OpenAiLlmClient,
  type Refined,
  retryAfterMs,
  type StructuredLlm,
  type StructuredOutputMode,
  type StructuredRequest,
  type StructuredResponse,
  ZERO_USAGE,
} from './llm-client.ts';
export {
  LlmAuditReportSchema,
  LlmPlanSchema,
  LlmSynthesisSchema,
  type StepDecision,
  type ThoughtAction,
  ThoughtActionSchema,
  toStepDecision,
} from './llm-schemas.ts';
export { createLlmStepDecider } from './llm-step-decider.ts';
export { offlineAudit, offlineFindings } from './offline/auditor.ts';
export { offlinePlan } from './offline/planner.ts';
export { offlineSynthesize } from './offline/synthesize.ts';
export { BAD_MARKER, BAD_ONCE_MARKER, OFFLINE_MODEL, OFFLINE_RULES_VERSION } from './offline/text.ts';
export { offlineStepDecider } from './offline/worker.ts';
export { checkPlan, DEFAULT_MAX_PLAN_TASKS, type PlanDeps, type PlanOutcome, plan } from './planner.ts';
export { PROMPT_VERSION } from './prompts.ts';
export {
  type Agents,
  type AgentsConfig,
  type CallOptions,
  createAgents,
  createToolRegistry,
  type ExecuteOptions,
  type ProviderChoice,
  type ProviderName,
  resolveProvider,
} from './providers.ts';
export {
  DEFAULT_MAX_STEPS,
  type ExecuteTaskDeps,
  type ExecuteTaskOutcome,
  executeTask,
  type ReactState,
  type StepDecider,
} from './react-loop.ts';
export { type SynthesisInput, type SynthesizeDeps, synthesize } from './synthesize.ts';
export { CalculatorError, calculatorTool, evaluateExpression } from './tools/calculator.ts';
export { createHttpGetTool, type HttpGetOptions } from './tools/http-get.ts';
// The MCP tool client (tools/mcp-tool-servers.ts) is not re-exported: it loads the MCP SDK (~0.3 s),
// which only a worker with `mcpServers` needs, so the CLI imports it directly when it does.
export { readDependencyTool } from './tools/read-dependency.ts';
export {
  type AnyTool,
  TOOL_NAME_PATTERN,
  type Tool,
  type ToolContext,
  type ToolDescriptor,
  ToolError,
  ToolRegistry,
} from './tools/registry.ts';
export { type LoadToolModulesOptions, loadToolModules, toolsFromModule } from './tools/tool-modules.ts';
export { MCP_NAME_SEPARATOR, mcpToolName, sanitizeToolName } from './tools/tool-names.ts';
