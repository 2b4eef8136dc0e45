import { z } from 'zod';
import { type Tool, ToolError } from './registry.ts';

export const ReadDependencyInputSchema = z.object({ taskId: z.string().min(1) });

/** Gives the model a dependency's whole output (the prompt shows only a preview of long ones). */
export const readDependencyTool: Tool<z.infer<typeof ReadDependencyInputSchema>> = {
  name: 'read_dependency',
  description:
    'Returns the full output of a task this task depends on. Input {"taskId": "<id of the dependency>"}.',
  inputSchema: ReadDependencyInputSchema,
  run({ taskId }, { context }) {
    const dep = context.dependencies.find((d) => d.taskId === taskId);
    if (!dep) {
      const ids = context.dependencies.map((d) => d.taskId);
      throw new ToolError(
        `no dependency "${taskId}"; this task depends on: ${ids.length ? ids.join(', ') : '(none)'}`,
      );
    }
    return dep.output;
  },
};
