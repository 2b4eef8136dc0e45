// A tool module for `am worker` (docs/tools.md): list it in the worker's mcp_client_config.json as
// "tool_modules": ["./tools.mjs"] and the built-in ReAct agent offers these tools beside calculator and
// read_dependency. The default export is an array of { name, description, inputSchema, run }; inputSchema
// is a zod 4 schema (the model sees it as JSON Schema, and the input is parsed with it before run).
import { z } from 'zod';

/** Counts words the way a reader would: runs of non-space characters. */
function countWords(text) {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

export default [
  {
    name: 'word_count',
    description: 'Counts the words and characters of a text. Input {"text": "..."}.',
    inputSchema: z.object({ text: z.string().describe('the text to count') }),
    run({ text }) {
      return `${countWords(text)} words, ${text.length} characters`;
    },
  },
  {
    // `ctx` is what the tool may see of the task it serves: the task, its goal and dependencies, and an
    // AbortSignal that fires when the task is cancelled or the worker stops.
    name: 'task_info',
    description:
      'Says which task this is: its id, attempt and cycle, and the ids of the tasks it depends on.',
    inputSchema: z.object({}),
    run(_input, ctx) {
      const deps = ctx.context.dependencies.map((dep) => dep.taskId);
      return `task ${ctx.task.id} (attempt ${ctx.task.attempt}, cycle ${ctx.task.cycle}), depends on: ${deps.join(', ') || '(nothing)'}`;
    },
  },
];
