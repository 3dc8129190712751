import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOLS } from '../src/tools/registry.js';
import { connectMcp } from './helpers/mcp-client.js';
import { type TestServer, callHttpTool, startTestServer, tokenFor } from './helpers/server.js';

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * OpenAI strict function calling / Structured Outputs, as documented at
 * https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
 * (mirrored at https://developers.openai.com/api/docs/guides/structured-outputs): the supported
 * types and the "Supported properties" list (string: pattern, format; number: multipleOf, maximum,
 * exclusiveMaximum, minimum, exclusiveMinimum; array: minItems, maxItems), the root an object and
 * not anyOf, every object `additionalProperties: false` with all its properties `required`, anyOf
 * members each in the subset, at most 5000 properties and 10 levels of nesting, 120,000 characters
 * of names and enum values, 1000 enum values. Anything else (minLength, default, $schema,
 * propertyNames, title …) is treated as refused. Function names: ^[a-zA-Z0-9_-]{1,64}$.
 */
function openAiStrictProblems(name: string, root: Node): string[] {
  const problems: string[] = [];
  const allowed = new Set([
    'type', 'description', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
    'anyOf', '$defs', '$ref', 'pattern', 'format', 'multipleOf', 'maximum', 'exclusiveMaximum',
    'minimum', 'exclusiveMinimum', 'minItems', 'maxItems',
  ]); // prettier-ignore
  const types = new Set(['string', 'number', 'boolean', 'integer', 'object', 'array', 'null']);
  const formats = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']); // prettier-ignore
  let properties = 0;
  let chars = 0;
  let enums = 0;
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) problems.push(`function name ${name}`);
  if (root.type !== 'object' || root.anyOf !== undefined) problems.push('root must be an object, not anyOf');
  const visit = (node: unknown, path: string, depth: number) => {
    if (!isObject(node)) return void problems.push(`${path}: not a schema object`);
    if (depth > 10) problems.push(`${path}: nested deeper than 10 levels`);
    for (const key of Object.keys(node)) if (!allowed.has(key)) problems.push(`${path}: keyword ${key}`);
    const typeList = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
    for (const t of typeList) if (!types.has(t as string)) problems.push(`${path}: type ${String(t)}`);
    if (typeList.length === 0 && node.anyOf === undefined && node.$ref === undefined) {
      problems.push(`${path}: no type`);
    }
    if (typeof node.format === 'string' && !formats.has(node.format))
      problems.push(`${path}: format ${node.format}`);
    if (Array.isArray(node.enum)) {
      enums += node.enum.length;
      chars += node.enum.reduce((n: number, v) => n + String(v).length, 0);
    }
    if (typeList.includes('object') || node.properties !== undefined) {
      if (node.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
      const props = isObject(node.properties) ? node.properties : {};
      const required = Array.isArray(node.required) ? node.required : [];
      for (const key of Object.keys(props)) {
        properties += 1;
        chars += key.length;
        if (!required.includes(key)) problems.push(`${path}.${key}: not in required`);
        visit(props[key], `${path}.${key}`, depth + 1);
      }
    }
    if (Array.isArray(node.anyOf)) node.anyOf.forEach((m, i) => visit(m, `${path}.anyOf[${i}]`, depth + 1));
    if (node.items !== undefined) visit(node.items, `${path}.items`, depth + 1);
  };
  visit(root, name, 1);
  if (properties > 5000) problems.push('more than 5000 properties');
  if (chars > 120_000) problems.push('more than 120,000 characters of names and enum values');
  if (enums > 1000) problems.push('more than 1000 enum values');
  return problems;
}

/**
 * Gemini function declarations, as documented at https://ai.google.dev/api/caching#FunctionDeclaration
 * and https://ai.google.dev/api/caching#Schema: `parameters` is "a select subset of an OpenAPI 3.0
 * schema object" with the fields type (one name: string, number, integer, boolean, array, object,
 * null), format, title, description, nullable, enum (strings), maxItems, minItems, properties,
 * required, minProperties, maxProperties, minLength, maxLength, pattern, example, anyOf,
 * propertyOrdering, default, items, minimum, maximum. The one keyword OpenAI requires that this list
 * lacks, `additionalProperties: false`, is accepted at the root only: FunctionDeclaration's
 * `parametersJsonSchema` (the JSON Schema form of the parameters, whose documented example carries
 * it) takes it, and clients that fill `parameters` copy the root's properties and required. Below the
 * root, every node must be in the OpenAPI subset. Names: functions ^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$,
 * parameters ^[a-zA-Z_][a-zA-Z0-9_]{0,63}$.
 */
function geminiProblems(name: string, root: Node): string[] {
  const problems: string[] = [];
  const allowed = new Set([
    'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties',
    'required', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example',
    'anyOf', 'propertyOrdering', 'default', 'items', 'minimum', 'maximum',
  ]); // prettier-ignore
  const types = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);
  const formats: Record<string, string[]> = {
    string: ['enum', 'date-time'],
    number: ['float', 'double'],
    integer: ['int32', 'int64'],
  };
  if (!/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(name)) problems.push(`function name ${name}`);
  const visit = (node: unknown, path: string, isRoot: boolean) => {
    if (!isObject(node)) return void problems.push(`${path}: not a schema object`);
    for (const key of Object.keys(node)) {
      if (isRoot && key === 'additionalProperties' && node[key] === false) continue;
      if (!allowed.has(key)) problems.push(`${path}: keyword ${key}`);
    }
    const type = node.type;
    if (type !== undefined && (typeof type !== 'string' || !types.has(type.toLowerCase()))) {
      problems.push(`${path}: type ${JSON.stringify(type)} (one type name only)`);
    }
    if (type === undefined && node.anyOf === undefined) problems.push(`${path}: no type`);
    if (node.enum !== undefined) {
      if (type !== 'string') problems.push(`${path}: enum on a non-string`);
      if (!Array.isArray(node.enum) || node.enum.some((v) => typeof v !== 'string')) {
        problems.push(`${path}: enum values must be strings`);
      }
    }
    if (node.format !== undefined && !(formats[String(type)] ?? []).includes(String(node.format))) {
      problems.push(`${path}: format ${String(node.format)}`);
    }
    if (isObject(node.properties)) {
      for (const [key, child] of Object.entries(node.properties)) {
        if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(key)) problems.push(`${path}: parameter name ${key}`);
        visit(child, `${path}.${key}`, false);
      }
      const required = Array.isArray(node.required) ? node.required : [];
      for (const key of required) {
        if (!(key in node.properties)) problems.push(`${path}: required ${String(key)} is not a property`);
      }
    }
    if (Array.isArray(node.anyOf)) node.anyOf.forEach((m, i) => visit(m, `${path}.anyOf[${i}]`, false));
    if (node.items !== undefined) visit(node.items, `${path}.items`, false);
  };
  visit(root, name, true);
  return problems;
}

/** What zod published before: the keywords the issue found refused by one provider or the other. */
const ZOD_STYLE_SCHEMA: Node = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    limit: { default: 50, type: 'integer', exclusiveMinimum: 0 },
    metadata: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: {} },
    to: {
      anyOf: [
        { type: 'string', const: 'ALL' },
        { type: 'string', minLength: 1 },
      ],
    },
    value: {},
  },
  required: ['to'],
  additionalProperties: false,
};

describe('published tool schemas', () => {
  let server: TestServer;
  let key: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer();
    key = { 'x-api-key': server.apiKey, 'x-agent-id': 'schema-reader' };
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('the validators refuse the keywords the zod-generated schemas carried', () => {
    const openAi = openAiStrictProblems('zod_style', ZOD_STYLE_SCHEMA).join('\n');
    const gemini = geminiProblems('zod_style', ZOD_STYLE_SCHEMA).join('\n');
    for (const keyword of ['$schema', 'default', 'propertyNames', 'minLength']) {
      expect(openAi).toContain(`keyword ${keyword}`);
    }
    expect(openAi).toContain('not in required');
    expect(openAi).toContain('additionalProperties must be false');
    expect(openAi).toContain('no type');
    for (const keyword of ['$schema', 'exclusiveMinimum', 'const', 'propertyNames', 'additionalProperties']) {
      expect(gemini).toContain(`keyword ${keyword}`);
    }
  });

  for (const mode of ['legacy', 'auto'] as const) {
    it(`every tool's inputSchema in tools/list (${mode} era) passes the OpenAI strict and Gemini rules`, async () => {
      const client = await connectMcp(server.url, key, mode);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name).sort()).toEqual([...TOOLS.keys()].sort());
        for (const tool of tools) {
          const schema = tool.inputSchema as Node;
          expect(openAiStrictProblems(tool.name, schema), tool.name).toEqual([]);
          expect(geminiProblems(tool.name, schema), tool.name).toEqual([]);
          expect(schema).toMatchObject({ type: 'object', additionalProperties: false });
          expect(schema.properties).toBeTypeOf('object');
        }
      } finally {
        await client.close();
      }
    });
  }

  it('the OpenAI Agents SDK strict conversion finds nothing to refuse: no open object, every optional nullable', async () => {
    const client = await connectMcp(server.url, key);
    try {
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t.inputSchema as Node]));
      for (const [name, prop] of [
        ['create_session', 'metadata'],
        ['set_memory', 'value'],
        ['set_memory', 'value_json'],
        ['send_message', 'content'],
        ['send_message', 'content_json'],
      ] as const) {
        const node = (byName.get(name)!.properties as Record<string, Node>)[prop]!;
        const members = (node.anyOf as Node[] | undefined) ?? [node];
        expect(
          members.some((m) => m.type === 'null'),
          `${name}.${prop} accepts null`,
        ).toBe(true);
        expect(
          members.every((m) => m.type !== 'object' && m.type !== undefined),
          `${name}.${prop}`,
        ).toBe(true);
      }
    } finally {
      await client.close();
    }
  });
});

describe('null stands for an absent optional argument', () => {
  let server: TestServer;
  let token: string;
  let admin: string;
  let sessionId: string;
  let messageId: number;
  let mailId: number;

  /** Valid required arguments of each tool, against the fixtures below. */
  const required = (): Record<string, Record<string, unknown>> => ({
    authenticate_agent: { agent_id: 'null-caller' },
    create_session: { purpose: 'nulls' },
    get_session: { session_id: sessionId },
    update_session: { session_id: sessionId },
    add_message: { session_id: sessionId, content: 'hello' },
    add_private_note: { session_id: sessionId, content: 'note' },
    get_message: { session_id: sessionId, message_id: messageId },
    get_messages: { session_id: sessionId },
    wait_for_messages: { session_id: sessionId, after_id: 0 },
    search_context: { session_id: sessionId, query: 'hello' },
    search_by_sender: { session_id: sessionId, sender: 'null-caller' },
    search_by_timerange: {
      session_id: sessionId,
      start_time: '2000-01-01T00:00:00Z',
      end_time: '2100-01-01T00:00:00Z',
    },
    set_memory: { key: 'k', value: 'v' },
    get_memory: { key: 'k' },
    delete_memory: { key: 'k' },
    send_message: { to: 'null-caller', content: 'hi' },
    ack_message: { message_id: mailId },
    issue_agent_key: { agent_id: 'keyed-agent', agent_type: 'reviewer' },
    revoke_agent_key: { agent_id: 'keyed-agent' },
  });
  /** Tools that end or replace the caller's token: each gets a token of its own. */
  const spendsToken = new Set(['refresh_token', 'revoke_token']);

  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor(server, 'null-caller');
    admin = await tokenFor(server, 'null-admin', { admin: true });
    const auth = { authorization: `Bearer ${token}` };
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'fixtures' }, auth);
    sessionId = created.body.session_id as string;
    const added = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'hello' },
      auth,
    );
    messageId = (added.body.message as { id: number } | undefined)?.id ?? (added.body.message_id as number);
    await callHttpTool(server.url, 'send_message', { to: 'null-caller', content: 'to myself' }, auth);
    const inbox = await callHttpTool(server.url, 'get_inbox', {}, auth);
    mailId = (inbox.body.messages as Array<{ id: number }>)[0]!.id;
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('every tool accepts all its optional arguments as null, over POST /mcp/tool', async () => {
    // Every tool has at least one optional argument (auth_token).
    for (const tool of TOOLS.values()) {
      const args: Record<string, unknown> = { ...(required()[tool.name] ?? {}) };
      for (const key of Object.keys(tool.inputJsonSchema.properties)) if (!(key in args)) args[key] = null;
      const bearer = spendsToken.has(tool.name)
        ? await tokenFor(server, 'null-caller')
        : tool.permission === 'admin'
          ? admin
          : token;
      const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
      if (tool.name === 'authenticate_agent') headers['x-api-key'] = server.apiKey;
      const { status, body } = await callHttpTool(server.url, tool.name, args, headers);
      expect({ tool: tool.name, status, body }).toMatchObject({ status: 200, body: { success: true } });
    }
  });

  it('the same all-null call works over MCP', async () => {
    const client = await connectMcp(server.url, { authorization: `Bearer ${token}` });
    try {
      const result = await client.callTool({
        name: 'get_messages',
        arguments: {
          session_id: sessionId,
          limit: null,
          offset: null,
          after_id: null,
          before_id: null,
          visibility_filter: null,
          sender: null,
          thread_id: null,
          auth_token: null,
        },
      });
      expect(result.isError).not.toBe(true);
      expect(result.structuredContent).toMatchObject({ success: true });
    } finally {
      await client.close();
    }
  });

  it('a required argument sent as null is still refused with INVALID_INPUT', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const { status, body } = await callHttpTool(server.url, 'get_session', { session_id: null }, auth);
    expect(status).toBe(400);
    expect(body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
    expect(body.error).toContain('session_id');
    const mail = await callHttpTool(server.url, 'send_message', { to: 'x', content: null }, auth);
    expect(mail.body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
  });
});

describe('strict-mode style calls store what the object form stores', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer();
    auth = { authorization: `Bearer ${await tokenFor(server, 'strict-caller')}` };
  });
  afterAll(async () => {
    await server.cleanup();
  });
  const call = async (name: string, args: Record<string, unknown>) => {
    const { body } = await callHttpTool(server.url, name, args, auth);
    expect(body, `${name} ${JSON.stringify(args)}`).toMatchObject({ success: true });
    return body;
  };
  const metadata = { source: 'web', tags: ['a', 'b'], nested: { n: 1 } };

  it('metadata as JSON text round-trips like the object (sessions and messages)', async () => {
    const a = await call('create_session', { purpose: 'object', metadata });
    const b = await call('create_session', {
      purpose: 'text',
      metadata: JSON.stringify(metadata),
      initial_message: null,
    });
    const viewA = await call('get_session', { session_id: a.session_id });
    const viewB = await call('get_session', { session_id: b.session_id });
    expect((viewB.session as Node).metadata).toEqual(metadata);
    expect((viewB.session as Node).metadata).toEqual((viewA.session as Node).metadata);

    const m = await call('add_message', {
      session_id: a.session_id,
      content: 'x',
      metadata: JSON.stringify(metadata),
    });
    const id = (m.message as { id: number } | undefined)?.id ?? (m.message_id as number);
    const read = await call('get_message', { session_id: a.session_id, message_id: id });
    expect((read.message as Node).metadata).toEqual(metadata);
  });

  it('metadata text that is not a JSON object is refused with INVALID_INPUT', async () => {
    for (const bad of ['[1,2]', '{"a":', '"text"', '42']) {
      const { body } = await callHttpTool(
        server.url,
        'create_session',
        { purpose: 'p', metadata: bad },
        auth,
      );
      expect(body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
    }
  });

  it('set_memory value_json stores the same value as value', async () => {
    const value = { step: 3, done: ['a', 'b'], ok: true, none: null };
    await call('set_memory', { key: 'obj', value });
    await call('set_memory', {
      key: 'txt',
      value: null,
      value_json: JSON.stringify(value),
      session_id: null,
    });
    const a = await call('get_memory', { key: 'obj' });
    const b = await call('get_memory', { key: 'txt', session_id: null });
    expect(b.value).toEqual(value);
    expect(b.value).toEqual(a.value);
  });

  it('set_memory refuses value and value_json together, and neither', async () => {
    const both = await callHttpTool(server.url, 'set_memory', { key: 'k', value: 1, value_json: '2' }, auth);
    expect(both.body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
    const neither = await callHttpTool(server.url, 'set_memory', { key: 'k' }, auth);
    expect(neither.body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
    const badJson = await callHttpTool(server.url, 'set_memory', { key: 'k', value_json: '{nope' }, auth);
    expect(badJson.body).toMatchObject({ success: false, code: 'INVALID_INPUT' });
  });

  it('send_message content_json delivers the same content as a content object', async () => {
    const content = { task: 'review', files: ['a.ts'] };
    await call('send_message', { to: 'strict-caller', content });
    await call('send_message', {
      to: 'strict-caller',
      content: null,
      content_json: JSON.stringify(content),
      reply_to: null,
    });
    const inbox = await call('get_inbox', {});
    const received = (inbox.messages as Array<{ content: unknown }>).map((m) => m.content);
    expect(received).toEqual([content, content]);
  });
});

describe('resource discovery', () => {
  let server: TestServer;
  let client: Client;
  let mine: string[];
  let others: string;
  beforeAll(async () => {
    server = await startTestServer();
    const me = { authorization: `Bearer ${await tokenFor(server, 'lister')}` };
    const other = { authorization: `Bearer ${await tokenFor(server, 'someone-else')}` };
    mine = [];
    for (const purpose of ['first', 'second']) {
      const { body } = await callHttpTool(server.url, 'create_session', { purpose }, me);
      mine.push(body.session_id as string);
    }
    others = (await callHttpTool(server.url, 'create_session', { purpose: 'theirs' }, other)).body
      .session_id as string;
    const joined = (await callHttpTool(server.url, 'create_session', { purpose: 'joined' }, other)).body
      .session_id as string;
    await callHttpTool(server.url, 'add_message', { session_id: joined, content: 'I was here' }, me);
    mine.push(joined);
    client = await connectMcp(server.url, me);
  });
  afterAll(async () => {
    await client.close();
    await server.cleanup();
  });

  it('declares the completions capability', () => {
    expect(client.getServerCapabilities()?.completions).toBeDefined();
  });

  it("resources/list lists the caller's memory, inbox and the sessions it created or wrote in, newest first", async () => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain('agent://lister/memory');
    expect(uris).toContain('agent://lister/inbox');
    const sessions = uris.filter((u) => u.startsWith('session://'));
    expect(sessions).toEqual([...mine].reverse().map((id) => `session://${id}`));
    expect(sessions).not.toContain(`session://${others}`);
    for (const r of resources) expect(r.name).toBeTruthy();
  });

  it('resources/list without credentials is refused, while resources/templates/list answers', async () => {
    const anonymous = await connectMcp(server.url, {});
    try {
      await expect(anonymous.listResources()).rejects.toThrow();
      const { resourceTemplates } = await anonymous.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('session://{session_id}');
    } finally {
      await anonymous.close();
    }
  });

  it('completes session ids by prefix for both session templates', async () => {
    for (const uri of ['session://{session_id}', 'session://{session_id}/messages/{limit}']) {
      const all = await client.complete({
        ref: { type: 'ref/resource', uri },
        argument: { name: 'session_id', value: 'session_' },
      });
      expect([...all.completion.values].sort()).toEqual([...mine, others].sort());
      const one = await client.complete({
        ref: { type: 'ref/resource', uri },
        argument: { name: 'session_id', value: mine[0]!.slice(0, 14) },
      });
      expect(one.completion.values).toContain(mine[0]);
      expect(one.completion.values.every((v) => v.startsWith(mine[0]!.slice(0, 14)))).toBe(true);
    }
  });

  it("completes agent_id only to the caller's own id", async () => {
    for (const uri of ['agent://{agent_id}/memory', 'agent://{agent_id}/inbox']) {
      const own = await client.complete({
        ref: { type: 'ref/resource', uri },
        argument: { name: 'agent_id', value: 'li' },
      });
      expect(own.completion.values).toEqual(['lister']);
      const other = await client.complete({
        ref: { type: 'ref/resource', uri },
        argument: { name: 'agent_id', value: 'some' },
      });
      expect(other.completion.values).toEqual([]);
    }
  });

  it('gives no completions without credentials', async () => {
    const anonymous = await connectMcp(server.url, {});
    try {
      await expect(
        anonymous.complete({
          ref: { type: 'ref/resource', uri: 'session://{session_id}' },
          argument: { name: 'session_id', value: 'session_' },
        }),
      ).rejects.toThrow();
    } finally {
      await anonymous.close();
    }
  });
});
