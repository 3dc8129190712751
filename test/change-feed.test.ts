import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECT } from './helpers/database.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from './helpers/server.js';

type Change = [kind: string, sessionId: string | null, agentId: string | null, ref: string | null];

describe('the change feed records every committed write once, in commit order', () => {
  let server: TestServer;
  let alice: Record<string, string>;
  let admin: Record<string, string>;
  let seen = 0;

  beforeAll(async () => {
    server = await startTestServer();
    alice = { authorization: `Bearer ${await tokenFor(server, 'alice')}` };
    admin = { authorization: `Bearer ${await tokenFor(server, 'root', { admin: true })}` };
    seen = await server.app.services.store.changeFeed.head();
  });
  afterAll(async () => server.cleanup());

  const call = async (tool: string, args: Record<string, unknown>, auth = alice) => {
    const { body } = await callHttpTool(server.url, tool, args, auth);
    return body;
  };

  /**
   * The changes recorded since the last call, as [kind, session, agent, ref]; their cursors increase
   * (SQLite: one per change; PostgreSQL: one per transaction, shared by its changes).
   */
  const newChanges = async (): Promise<Change[]> => {
    const rows = await server.app.services.store.changeFeed.read(seen, 1000);
    rows.forEach((row, i) => {
      if (i === 0) expect(row.cursor).toBeGreaterThan(seen);
      else if (TEST_DIALECT === 'sqlite') expect(row.cursor).toBeGreaterThan(rows[i - 1]!.cursor);
      else expect(row.cursor).toBeGreaterThanOrEqual(rows[i - 1]!.cursor);
    });
    seen = rows.at(-1)?.cursor ?? seen;
    return rows.map((r) => [r.kind, r.session_id, r.agent_id, r.ref]);
  };

  it('sessions and messages: created, written to, archived', async () => {
    const created = await call('create_session', { purpose: 'feed', initial_message: 'hello' });
    const id = created.session_id as string;
    expect(await newChanges()).toEqual([
      ['session', id, 'alice', 'active'],
      ['message', id, 'alice', String(created.initial_message_id)],
    ]);
    const added = await call('add_message', { session_id: id, content: 'more', visibility: 'private' });
    expect(await newChanges()).toEqual([['message', id, 'alice', String(added.message_id)]]);
    await call('update_session', { session_id: id, status: 'archived' });
    expect(await newChanges()).toEqual([['session', id, null, 'archived']]);
  });

  it('memory: set globally and in a session, overwritten, deleted; a refused write records nothing', async () => {
    const id = (await call('create_session', { purpose: 'memory' })).session_id as string;
    await newChanges();
    await call('set_memory', { key: 'plan', value: 1 });
    await call('set_memory', { key: 'plan', value: 2 });
    await call('set_memory', { key: 'note', value: 'x', session_id: id });
    expect((await call('set_memory', { key: 'plan', value: 3, if_version: 1 })).code).toBe('CONFLICT');
    await call('delete_memory', { key: 'plan' });
    expect(await newChanges()).toEqual([
      ['memory', null, 'alice', 'plan'],
      ['memory', null, 'alice', 'plan'],
      ['memory', id, 'alice', 'note'],
      ['memory', null, 'alice', 'plan'],
    ]);
  });

  it('mail and its receipts, presence, but not mere activity', async () => {
    const bob = { authorization: `Bearer ${await tokenFor(server, 'bob')}` };
    await call('register_agent', { name: 'Bob' }, bob);
    await call('heartbeat', { status: 'idle' }, bob);
    expect(await newChanges()).toEqual([
      ['presence', null, 'bob', 'active'],
      ['presence', null, 'bob', 'idle'],
    ]);
    const sent = await call('send_message', { to: ['bob', 'carol'], content: 'review this' });
    const [toBob, toCarol] = sent.message_ids as number[];
    expect(await newChanges()).toEqual([
      ['mail', null, 'bob', String(toBob)],
      ['mail', null, 'carol', String(toCarol)],
    ]);
    await call('get_inbox', {}, bob);
    await call('get_inbox', {}, bob); // delivered already: nothing changes
    await call('ack_message', { message_id: toBob }, bob);
    await call('list_sessions', {}, bob);
    await server.app.services.agents.flush(); // writes bob's last activity: no change of presence
    expect(await newChanges()).toEqual([
      ['receipt', null, 'alice', String(toBob)],
      ['receipt', null, 'alice', String(toBob)],
    ]);
  });

  it('token revocations and agent keys: issued, replaced (ended, then issued), revoked', async () => {
    const leaving = await tokenFor(server, 'leaver');
    const revoked = await call('revoke_token', {}, { authorization: `Bearer ${leaving}` });
    expect(await newChanges()).toEqual([['revocation', null, 'leaver', revoked.revoked as string]]);
    await call('issue_agent_key', { agent_id: 'keyed', agent_type: 'claude' }, admin);
    await call('issue_agent_key', { agent_id: 'keyed', agent_type: 'claude' }, admin);
    await call('revoke_agent_key', { agent_id: 'keyed' }, admin);
    expect(await newChanges()).toEqual([
      ['agent_key', null, 'keyed', 'issued'],
      ['agent_key', null, 'keyed', 'ended'],
      ['agent_key', null, 'keyed', 'issued'],
      ['agent_key', null, 'keyed', 'ended'],
    ]);
  });
});
