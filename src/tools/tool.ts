import { z } from 'zod';
import type { Credentials, Permission, Principal } from '../auth/principal.js';
import type { Services } from '../app/services.js';
import {
  type PublishedInputSchema,
  nullAsAbsent,
  optionalKeys,
  toPortableInputSchema,
} from './json-schema.js';

/** What a handler gets besides its arguments. */
export interface ToolContext {
  readonly services: Services;
  /** The authenticated caller (for permission 'none', a placeholder with no permissions). */
  readonly principal: Principal;
  /** The raw credentials of the request (authenticate_agent reads the X-API-Key header here). */
  readonly credentials: Credentials;
  /** Aborted when the caller goes away (long-polls stop waiting); given to tools that `wait`. */
  readonly signal?: AbortSignal | undefined;
}

export type ToolResultBody = object;

export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** The argument every tool accepts, for clients that cannot set an Authorization header. */
export const authTokenArg = z
  .string()
  .min(1)
  .optional()
  .describe('Your token from authenticate_agent, for clients that cannot send an Authorization header.');

type WithAuth<S extends z.ZodRawShape> = z.ZodObject<S & { auth_token: typeof authTokenArg }, z.core.$strict>;

interface ToolSpec<S extends z.ZodRawShape> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** 'none' only for authenticate_agent: it is how a caller gets credentials. */
  readonly permission: Permission | 'none';
  readonly input: S;
  readonly annotations?: ToolAnnotations;
  /** The handler may wait (a long-poll): transports give it a signal aborted when the caller leaves. */
  readonly waits?: boolean;
  /** A rule across arguments (e.g. "value or value_json"): returns the problem, or undefined. */
  check?(args: z.infer<WithAuth<S>>): { path: string; message: string } | undefined;
  handler(args: z.infer<WithAuth<S>>, ctx: ToolContext): Promise<ToolResultBody>;
}

/**
 * A tool, defined once: name, zod input, permission and handler. Every transport (MCP over HTTP
 * and stdio, POST /mcp/tool/{name}) exposes it from this one definition.
 */
export interface ToolDefinition {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly permission: Permission | 'none';
  /**
   * What the server validates. Strict: an unknown argument (a typo) is an error, not silently
   * ignored. An optional argument sent as null counts as absent (strict-mode callers send null).
   */
  readonly input: z.ZodType<Record<string, unknown>>;
  /** What tools/list announces: the same arguments in the subset every major model provider accepts. */
  readonly inputJsonSchema: PublishedInputSchema;
  readonly annotations?: ToolAnnotations;
  /** See ToolSpec.waits; the other tools answer without waiting and get no signal. */
  readonly waits?: boolean;
  handler(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResultBody>;
}

export function defineTool<S extends z.ZodRawShape>(spec: ToolSpec<S>): ToolDefinition {
  const { check, ...rest } = spec;
  const shape = z.strictObject({ ...spec.input, auth_token: authTokenArg });
  const checked =
    check === undefined
      ? shape
      : shape.superRefine((args, ctx) => {
          const problem = check(args);
          if (problem !== undefined)
            ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
        });
  return {
    ...rest,
    input: z.preprocess(nullAsAbsent(optionalKeys(shape)), checked) as z.ZodType<Record<string, unknown>>,
    inputJsonSchema: toPortableInputSchema(shape),
    handler: spec.handler as ToolDefinition['handler'],
  };
}
