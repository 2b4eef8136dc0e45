import { type Agents, createAgents } from '../agents/index.ts';
import type { Config } from '../config.ts';

/** The agents (openai or offline) as configured: provider, endpoint, models per role, limits. */
export function agentsFromConfig(config: Config): Agents {
  const allowlist = (config.AM_HTTP_GET_ALLOWLIST ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return createAgents({
    provider: config.AM_LLM_PROVIDER,
    llm: {
      ...(config.OPENAI_BASE_URL === undefined ? {} : { baseURL: config.OPENAI_BASE_URL }),
      ...(config.OPENAI_API_KEY === undefined ? {} : { apiKey: config.OPENAI_API_KEY }),
      models: {
        planner: config.AM_MODEL_PLANNER,
        worker: config.AM_MODEL_WORKER,
        auditor: config.AM_MODEL_AUDITOR,
      },
      structuredOutput: config.AM_LLM_STRUCTURED_OUTPUT,
      timeoutMs: config.AM_LLM_TIMEOUT_MS,
    },
    maxSteps: config.AM_MAX_STEPS,
    ...(allowlist.length > 0 ? { httpGet: { allowlist } } : {}),
  });
}
