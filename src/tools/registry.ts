import { agentTools } from '../agents/agent.tools.js';
import { agentKeyTools } from '../auth/agent-key.tools.js';
import { authTools } from '../auth/auth.tools.js';
import { adminTools } from '../guidance/admin.tools.js';
import { memoryTools } from '../memory/memory.tools.js';
import { messageTools } from '../messages/message.tools.js';
import { searchTools } from '../search/search.tools.js';
import { sessionTools } from '../sessions/session.tools.js';
import type { ToolDefinition } from './tool.js';

/** Every tool of the server, by name. */
export const TOOLS: ReadonlyMap<string, ToolDefinition> = new Map(
  [
    ...authTools,
    ...sessionTools,
    ...messageTools,
    ...searchTools,
    ...memoryTools,
    ...agentTools,
    ...adminTools,
    ...agentKeyTools,
  ].map((t) => [t.name, t]),
);
