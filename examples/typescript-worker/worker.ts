// A worker in plain TypeScript, no LLM: it claims READY tasks from an AgentManager server, answers each
// with code and posts the result (README: "Write a worker in TypeScript").
//   npx am agents add ts-worker --role worker --out worker.json && npx tsx worker.ts worker.json
import { createWorker, HttpTransport, loadClientConfig } from 'agentmanager';

const config = loadClientConfig(process.argv[2] ?? 'worker.json');
const transport = new HttpTransport({ serverUrl: config.server_url, token: config.auth_token });
const worker = createWorker(
  {
    // One claimed task in, its outcome out. The synthesis task writes the graph's final answer.
    async execute({ task, context }) {
      const inputs = context.dependencies.map((dep) => `${dep.taskId}: ${dep.output}`);
      if (task.kind === 'synthesis') return { status: 'completed', output: inputs.join('\n') };
      return { status: 'completed', output: `${task.title}: ${task.instructions} (${inputs.length} inputs)` };
    },
  },
  { transport, concurrency: 4 },
);
worker.start();
console.log(`worker ${config.client_agent_id} is taking tasks from ${config.server_url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void worker.stop());
