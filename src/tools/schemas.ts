import { z } from 'zod';
import { AGENT_ID_PATTERN, SESSION_ID_PATTERN } from '../core/ids.js';
import { publishAs } from './json-schema.js';

/** Argument schemas shared by several tools. */
export const sessionIdArg = z
  .string()
  .regex(SESSION_ID_PATTERN, 'must look like session_ followed by 16 hex digits (from create_session)')
  .describe('The session id, e.g. session_0123456789abcdef.');

export const agentIdArg = z
  .string()
  .regex(AGENT_ID_PATTERN, 'must be 1–100 characters of letters, digits, ".", "_", ":" or "-"');

/**
 * JSON sent as text: for callers whose schemas cannot declare an open object or an arbitrary
 * value (OpenAI strict mode), the value travels as a string and is parsed here.
 */
export const jsonTextArg = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be valid JSON text', input: text });
    return z.NEVER;
  }
});

const jsonObject = z.record(z.string(), z.unknown());

/** A JSON object, or the same object as JSON text (published as the text form). */
export const jsonObjectArg = z
  .union([jsonObject, jsonTextArg.pipe(jsonObject)], {
    error: 'must be a JSON object, or a string holding a JSON object',
  })
  .meta(publishAs({ type: 'string' }));

export const metadataArg = jsonObjectArg
  .meta({
    ...publishAs({ type: 'string' }),
    description:
      'Free-form JSON object stored with the item, sent as JSON text such as {"source":"web"} (a JSON object is accepted too).',
  })
  .optional();

export const messageIdArg = z.number().int().positive();

export const isoTimeArg = z.iso.datetime({ offset: true, local: false });

/**
 * The rule for an argument that also comes as JSON text (`value` / `value_json`): exactly one of
 * them, the plain one null or absent when the JSON one is given. Without `emptyAllowed`, the
 * value must not be null or an empty string (mail content); otherwise null is a value to store.
 */
export function valueOrJson(
  plain: unknown,
  json: unknown,
  name: string,
  options: { emptyAllowed?: boolean } = {},
): { path: string; message: string } | undefined {
  const empty = (v: unknown) => v === undefined || v === null || v === '';
  if (json !== undefined) {
    if (plain !== undefined && plain !== null) {
      return { path: name, message: `give ${name} or ${name}_json, not both (set ${name} to null)` };
    }
    if (options.emptyAllowed === false && empty(json)) {
      return { path: `${name}_json`, message: 'must hold a non-empty JSON value' };
    }
    return undefined;
  }
  if (plain === undefined || (options.emptyAllowed === false && empty(plain))) {
    return { path: name, message: `is required (or give ${name}_json)` };
  }
  return undefined;
}
