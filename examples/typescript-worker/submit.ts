// Gives AgentManager work with the HTTP client: an explicit task graph, then its final answer and trail.
//   npx tsx submit.ts .am/admin.json   (`am up` writes .am/admin.json; any admin mcp_client_config.json works)
import { AmClient, loadClientConfig } from 'agentmanager';

const client = AmClient.fromClientConfig(loadClientConfig(process.argv[2] ?? '.am/admin.json'));
const { graphId, seq } = await client.submit({
  goal: 'Greet the team in two languages',
  tasks: [
    { id: 'english', title: 'English greeting', instructions: 'Greet the team in English' },
    { id: 'spanish', title: 'Spanish greeting', instructions: 'Greet the team in Spanish' },
    {
      id: 'card',
      title: 'Greeting card',
      instructions: 'Put both greetings on one card',
      dependsOn: ['english', 'spanish'],
    },
  ],
});
const { graph } = await client.waitForGraph(graphId, { minSeq: seq, timeoutMs: 60_000 });
console.log(`graph ${graphId} ${graph.status}\n${graph.output ?? graph.failure?.message}`);
for await (const event of client.trail(graphId)) {
  console.log(`#${event.seq} ${event.type} ${event.taskId ?? ''} ${event.actor ?? ''}`);
}
