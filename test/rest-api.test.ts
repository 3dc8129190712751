import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

type Json = Record<string, unknown>;
type Agent = {
  agent_id: string;
  session_id: string | null;
  name: string | null;
  status: string;
  capabilities: string[];
  last_heartbeat: string | null;
};
type Mail = { id: number; from: string; to: string; type: string; content: unknown; read_at: string | null };

describe('agent REST API /api/v1 (seed 004)', () => {
  let server: TestServer;
  let session: string;
  const bearers = new Map<string, Record<string, string>>();

  async function bearer(agentId: string): Promise<Record<string, string>> {
    let h = bearers.get(agentId);
    if (h === undefined) {
      h = { authorization: `Bearer ${await tokenFor(server, agentId)}` };
      bearers.set(agentId, h);
    }
    return h;
  }

  const apiKey = (agentId: string) => ({ 'x-api-key': server.apiKey, 'x-agent-id': agentId });

  async function rest(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  beforeAll(async () => {
    server = await startTestServer();
    const created = await callHttpTool(
      server.url,
      'create_session',
      { purpose: 'rest api' },
      await bearer('alpha'),
    );
    session = created.body.session_id as string;
  });
  afterAll(async () => server.cleanup());

  describe('POST /agents/register', () => {
    it('registers the caller with a Bearer token and answers {success, agent_id, websocket_url, peers}', async () => {
      const { status, body } = await rest('POST', '/agents/register', await bearer('alpha'), {
        agent_id: 'alpha',
        session_id: session,
        name: 'Alpha',
        capabilities: ['detection'],
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, agent_id: 'alpha', websocket_url: '/ws/alpha', peers: [] });
    });

    it('registers the caller with X-API-Key and X-Agent-Id, and lists the earlier agent as a peer', async () => {
      const { status, body } = await rest('POST', '/agents/register', apiKey('beta'), {
        agent_id: 'beta',
        session_id: session,
        name: 'Beta',
        capabilities: ['detection', 'analysis'],
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, agent_id: 'beta', websocket_url: '/ws/beta' });
      expect(body.peers).toEqual([
        expect.objectContaining({ agent_id: 'alpha', name: 'Alpha', status: 'active' }),
      ]);
    });

    it("refuses to register someone else's agent_id with 403", async () => {
      for (const headers of [await bearer('mallory'), apiKey('mallory')]) {
        const { status, body } = await rest('POST', '/agents/register', headers, {
          agent_id: 'alpha',
          name: 'Not Alpha',
        });
        expect(status).toBe(403);
        expect(body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
      }
      const agents = await rest('GET', '/agents', await bearer('alpha'));
      const alpha = (agents.body.agents as Agent[]).find((a) => a.agent_id === 'alpha');
      expect(alpha?.name).toBe('Alpha');
    });

    it('answers a body that is not JSON with 400 INVALID_INPUT', async () => {
      const { status, body } = await rest('POST', '/agents/register', await bearer('alpha'), '{nope');
      expect(status).toBe(400);
      expect(body.code).toBe('INVALID_INPUT');
    });

    it('takes agent_type in the body as seed 004 clients send it: with API-key headers it is the type registered', async () => {
      const { status, body } = await rest('POST', '/agents/register', apiKey('gamma'), {
        agent_id: 'gamma',
        agent_type: 'claude',
        name: 'Gamma',
        capabilities: ['analysis'],
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, agent_id: 'gamma', agent: { agent_type: 'claude' } });
    });

    it("accepts an agent_type equal to the token's type", async () => {
      const token = await tokenFor(server, 'delta', { agentType: 'claude' });
      const { status, body } = await rest(
        'POST',
        '/agents/register',
        { authorization: `Bearer ${token}` },
        { agent_id: 'delta', agent_type: 'claude' },
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, agent: { agent_id: 'delta', agent_type: 'claude' } });
    });

    it("refuses an agent_type other than the token's or the X-Agent-Type header's with 403, and registers nothing", async () => {
      const token = await tokenFor(server, 'epsilon', { agentType: 'generic' });
      const attempts: Array<Record<string, string>> = [
        { authorization: `Bearer ${token}` },
        { ...apiKey('epsilon'), 'x-agent-type': 'generic' },
      ];
      for (const headers of attempts) {
        const { status, body } = await rest('POST', '/agents/register', headers, {
          agent_id: 'epsilon',
          agent_type: 'claude',
        });
        expect(status).toBe(403);
        expect(body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
        expect(body.error).toContain('agent_type');
      }
      const agents = await rest('GET', '/agents', await bearer('alpha'));
      expect((agents.body.agents as Agent[]).map((a) => a.agent_id)).not.toContain('epsilon');
    });

    it('answers an agent_type that is not a short string with 400 INVALID_INPUT', async () => {
      for (const agentType of [42, '', 'x'.repeat(101)]) {
        const { status, body } = await rest('POST', '/agents/register', apiKey('zeta'), {
          agent_id: 'zeta',
          agent_type: agentType,
        });
        expect(status).toBe(400);
        expect(body.code).toBe('INVALID_INPUT');
      }
    });
  });

  describe('GET /agents', () => {
    it('answers {agents:[{agent_id, session_id, name, status, capabilities, last_heartbeat}], total}', async () => {
      for (const headers of [await bearer('alpha'), apiKey('beta')]) {
        const { status, body } = await rest('GET', `/agents?session_id=${session}`, headers);
        expect(status).toBe(200);
        const agents = body.agents as Agent[];
        expect(body.total).toBe(agents.length);
        expect(agents.map((a) => a.agent_id).sort()).toEqual(['alpha', 'beta']);
        const beta = agents.find((a) => a.agent_id === 'beta');
        expect(beta).toMatchObject({
          agent_id: 'beta',
          session_id: session,
          name: 'Beta',
          status: 'active',
          capabilities: ['detection', 'analysis'],
        });
        expect(beta?.last_heartbeat).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
    });

    it('passes ?cursor= to the next page: agents after that id', async () => {
      const { status, body } = await rest(
        'GET',
        `/agents?session_id=${session}&cursor=alpha`,
        apiKey('beta'),
      );
      expect(status).toBe(200);
      expect((body.agents as Agent[]).map((a) => a.agent_id)).toEqual(['beta']);
    });
  });

  describe('POST and GET /messages', () => {
    it('sends {from, to, message} and the recipient reads it with GET /messages?agent_id=', async () => {
      const sent = await rest('POST', '/messages', apiKey('beta'), {
        from: 'beta',
        to: 'alpha',
        message: 'Hello Alpha!',
      });
      expect(sent.status).toBe(200);
      expect(sent.body).toMatchObject({ success: true, recipients: ['alpha'], count: 1 });
      const [id] = sent.body.message_ids as number[];

      const inbox = await rest('GET', '/messages?agent_id=alpha&limit=50', await bearer('alpha'));
      expect(inbox.status).toBe(200);
      expect(inbox.body.success).toBe(true);
      expect(inbox.body.messages).toEqual([
        expect.objectContaining({ id, from: 'beta', to: 'alpha', type: 'request', content: 'Hello Alpha!' }),
      ]);
    });

    it('keeps an explicit type and JSON content', async () => {
      const sent = await rest('POST', '/messages', await bearer('alpha'), {
        from: 'alpha',
        to: 'beta',
        type: 'task_proposal',
        message: { task: 'code_review', files: ['src/main.py'] },
      });
      expect(sent.status).toBe(200);
      const inbox = await rest('GET', '/messages?agent_id=beta', apiKey('beta'));
      expect((inbox.body.messages as Mail[]).at(-1)).toMatchObject({
        from: 'alpha',
        type: 'task_proposal',
        content: { task: 'code_review', files: ['src/main.py'] },
      });
    });

    it('pages the inbox with limit and after_id', async () => {
      const ids: number[] = [];
      for (let n = 1; n <= 4; n++) {
        const { body } = await rest('POST', '/messages', await bearer('alpha'), {
          from: 'alpha',
          to: 'gamma',
          message: `page ${n}`,
        });
        ids.push(...(body.message_ids as number[]));
      }
      const first = await rest('GET', '/messages?agent_id=gamma&limit=2', apiKey('gamma'));
      expect((first.body.messages as Mail[]).map((m) => m.id)).toEqual(ids.slice(0, 2));
      expect(first.body).toMatchObject({ has_more: true, next_cursor: ids[1] });
      const rest2 = await rest(
        'GET',
        `/messages?agent_id=gamma&limit=10&after_id=${ids[1]}`,
        apiKey('gamma'),
      );
      expect((rest2.body.messages as Mail[]).map((m) => m.id)).toEqual(ids.slice(2));
      expect(rest2.body.has_more).toBe(false);
    });

    it('acknowledges a mail with POST /messages/{id}/ack', async () => {
      const { body } = await rest('POST', '/messages', await bearer('alpha'), {
        from: 'alpha',
        to: 'beta',
        message: 'ack me',
      });
      const [id] = body.message_ids as number[];
      const acked = await rest('POST', `/messages/${id}/ack`, apiKey('beta'));
      expect(acked.status).toBe(200);
      expect((acked.body.message as Mail).read_at).toEqual(expect.any(String));
      const notMine = await rest('POST', `/messages/${id}/ack`, apiKey('gamma'));
      expect(notMine.status).toBe(404);
    });

    it('refuses a message whose from is not the caller with 403, and sends nothing', async () => {
      const { status, body } = await rest('POST', '/messages', await bearer('mallory'), {
        from: 'alpha',
        to: 'beta',
        message: 'forged',
      });
      expect(status).toBe(403);
      expect(body).toMatchObject({ success: false, code: 'PERMISSION_DENIED' });
      const inbox = await rest('GET', '/messages?agent_id=beta&limit=1000', apiKey('beta'));
      expect((inbox.body.messages as Mail[]).some((m) => m.content === 'forged')).toBe(false);
    });

    it("refuses to read someone else's inbox with 403", async () => {
      const { status, body } = await rest('GET', '/messages?agent_id=alpha', apiKey('mallory'));
      expect(status).toBe(403);
      expect(body.code).toBe('PERMISSION_DENIED');
    });
  });

  describe('auth and routing', () => {
    it('answers every route without credentials with 401', async () => {
      const calls: Array<[string, string, unknown]> = [
        ['POST', '/agents/register', { agent_id: 'alpha' }],
        ['GET', '/agents', undefined],
        ['POST', '/messages', { from: 'alpha', to: 'beta', message: 'x' }],
        ['GET', '/messages?agent_id=alpha', undefined],
        ['POST', '/messages/1/ack', undefined],
      ];
      for (const [method, path, body] of calls) {
        const res = await rest(method, path, {}, body);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
      }
    });

    it('answers a wrong API key with 401 and does not echo it', async () => {
      const res = await rest('GET', '/agents', { 'x-api-key': 'wrong-key-123', 'x-agent-id': 'alpha' });
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain('wrong-key-123');
    });

    it('answers an unknown route with 404 NOT_FOUND', async () => {
      for (const [method, path] of [
        ['GET', '/nothing-here'],
        ['DELETE', '/agents'],
        ['PUT', '/messages'],
      ] as const) {
        const res = await rest(method, path, await bearer('alpha'));
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
      }
    });
  });
});
