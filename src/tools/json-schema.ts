import { z } from 'zod';

/** A JSON Schema node as published in tools/list. */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * The root of a published tool input schema: a closed object whose every property is listed in
 * `required` (optional ones accept null instead), the shape OpenAI strict function calling needs.
 */
export interface PublishedInputSchema {
  type: 'object';
  properties: Record<string, JsonSchema>;
  required: string[];
  additionalProperties: false;
}

/**
 * Marks a zod argument whose JSON Schema cannot be published as it is (an open object, any JSON
 * value): `publishAs` is the portable schema announced instead. The zod schema still validates
 * what the server accepts, which must include what `publishAs` describes.
 */
export const publishAs = (schema: JsonSchema) => ({ portable: schema });

/** Formats both providers document (OpenAI strict lists more; Gemini's STRING formats are enum and date-time). */
const PORTABLE_FORMATS = new Set(['date-time']);

const describe = (text: unknown, extra: string | undefined): string | undefined => {
  const parts = [typeof text === 'string' ? text : undefined, extra].filter((p) => p !== undefined);
  return parts.length > 0 ? parts.join(' ') : undefined;
};

const asList = (value: unknown): JsonSchema[] => (Array.isArray(value) ? (value as JsonSchema[]) : []);

/**
 * One node reduced to the subset both OpenAI strict mode and Gemini function declarations accept:
 * type (one name), description, enum (strings), items, anyOf, minItems/maxItems, minimum/maximum,
 * pattern and format "date-time". What the subset cannot say moves into the description
 * (defaults, length bounds) or is dropped (it stays enforced by the server).
 */
function reduce(node: JsonSchema, where: string): JsonSchema {
  if (node.portable !== undefined) {
    const portable = { ...(node.portable as JsonSchema) };
    const description = describe(node.description, portable.description as string | undefined);
    delete portable.description;
    return description === undefined ? portable : { description, ...portable };
  }
  const notes: string[] = [];
  if (node.default !== undefined) notes.push(`Default: ${JSON.stringify(node.default)}.`);
  const out: JsonSchema = {};

  if (Array.isArray(node.anyOf)) {
    const members = asList(node.anyOf).flatMap((m, i) => {
      const reduced = reduce(m, `${where}.anyOf[${i}]`);
      return Array.isArray(reduced.anyOf) ? asList(reduced.anyOf) : [reduced];
    });
    const description = describe(node.description, notes.join(' ') || undefined);
    if (description !== undefined) out.description = description;
    // Members keep no description of their own: the property's description says it once.
    out.anyOf = members.map(({ description: _d, ...rest }) => rest);
    return out;
  }

  let type = node.type;
  if (node.const !== undefined) {
    type = typeof node.const === 'number' ? 'number' : typeof node.const;
    out.enum = [node.const];
  }
  if (typeof type !== 'string' || type === 'object') {
    throw new Error(
      `${where}: ${JSON.stringify(node)} has no portable form; give it publishAs(...) (an open object or any value cannot be declared for OpenAI strict mode and Gemini alike).`,
    );
  }
  out.type = type;
  if (Array.isArray(node.enum)) out.enum = node.enum;

  if (type === 'string') {
    const min = node.minLength as number | undefined;
    const max = node.maxLength as number | undefined;
    if (max !== undefined) notes.push(`At most ${max} characters.`);
    else if (min !== undefined && min > 1) notes.push(`At least ${min} characters.`);
    if (typeof node.format === 'string' && PORTABLE_FORMATS.has(node.format)) out.format = node.format;
    else if (typeof node.pattern === 'string') out.pattern = node.pattern;
  }
  if (type === 'integer' || type === 'number') {
    let min = node.minimum as number | undefined;
    let max = node.maximum as number | undefined;
    // exclusive bounds are OpenAI-only; on integers they are the next inclusive one.
    if (typeof node.exclusiveMinimum === 'number') {
      if (type === 'integer') min = Math.floor(node.exclusiveMinimum) + 1;
      else notes.push(`Greater than ${node.exclusiveMinimum}.`);
    }
    if (typeof node.exclusiveMaximum === 'number') {
      if (type === 'integer') max = Math.ceil(node.exclusiveMaximum) - 1;
      else notes.push(`Less than ${node.exclusiveMaximum}.`);
    }
    if (min !== undefined && min > Number.MIN_SAFE_INTEGER) out.minimum = min;
    if (max !== undefined && max < Number.MAX_SAFE_INTEGER) out.maximum = max;
  }
  if (type === 'array') {
    out.items = reduce((node.items ?? {}) as JsonSchema, `${where}.items`);
    if (typeof node.minItems === 'number') out.minItems = node.minItems;
    if (typeof node.maxItems === 'number') out.maxItems = node.maxItems;
  }
  const description = describe(node.description, notes.join(' ') || undefined);
  return description === undefined ? out : { description, ...out };
}

/** An optional argument as strict callers send it: the value, or null for "absent". */
function nullable(node: JsonSchema): JsonSchema {
  if (Array.isArray(node.anyOf)) {
    const members = asList(node.anyOf);
    return members.some((m) => m.type === 'null') ? node : { ...node, anyOf: [...members, { type: 'null' }] };
  }
  const { description, ...rest } = node;
  return {
    ...(description !== undefined ? { description } : {}),
    anyOf: [rest, { type: 'null' }],
  };
}

/**
 * The input schema a tool publishes, built from its zod object: every property listed in
 * `required`, optional ones nullable (null means absent, see `nullAsAbsent`), the object closed
 * with `additionalProperties: false`, and every property within the keyword subset that OpenAI
 * strict function calling and Gemini function declarations both accept.
 */
export function toPortableInputSchema(input: z.ZodObject): PublishedInputSchema {
  const json = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(asList(json.required) as unknown as string[]);
  const properties: Record<string, JsonSchema> = {};
  for (const [key, node] of Object.entries((json.properties ?? {}) as Record<string, JsonSchema>)) {
    const reduced = reduce(node, key);
    properties[key] = required.has(key) ? reduced : nullable(reduced);
  }
  return {
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

/** The keys of a zod object that may be left out: a null sent for one of them means "absent". */
export function optionalKeys(input: z.ZodObject): ReadonlySet<string> {
  return new Set(
    Object.entries(input.shape)
      .filter(([, field]) => {
        const type = (field as z.ZodType).def.type;
        return type === 'optional' || type === 'default';
      })
      .map(([key]) => key),
  );
}

/**
 * Drops the optional keys whose value is null, so that a strict-mode caller's null is read as the
 * absent argument it stands for. A required key's null is kept (and refused by validation).
 * Builds a fresh object (no prototype games with a `__proto__` key sent as data).
 */
export function nullAsAbsent(optional: ReadonlySet<string>): (raw: unknown) => unknown {
  return (raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    // Every tool call passes here: look without allocating, copy only when a null is to be dropped.
    const args = raw as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const key in args) {
      if (args[key] !== null || !optional.has(key) || !Object.hasOwn(args, key)) continue;
      copy ??= { ...args };
      delete copy[key];
    }
    return copy ?? raw;
  };
}
