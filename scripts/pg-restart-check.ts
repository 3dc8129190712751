/**
 * A check run by hand (it restarts the machine's PostgreSQL, which the test suite shares, so it is
 * not part of `npm test`): two real server processes on one schema, a WebSocket subscriber on node 2,
 * PostgreSQL restarted under them; then a write on node 1 must reach the subscriber once, and every
 * write acknowledged before the restart must be stored.
 *
 *   npx tsx scripts/pg-restart-check.ts        (needs root for pg_ctlcluster)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { startCliServer } from '../test/helpers/cli.js';
import { schemaUrl, testDeployment } from '../test/helpers/database.js';
import { callHttpTool } from '../test/helpers/server.js';
import { TestSocket, until } from '../test/helpers/ws-client.js';

const deployment = testDeployment();
await deployment.create();
const env = (dir: string) => ({
  ...deployment.keys,
  DATA_DIR: dir,
  DATABASE_URL: schemaUrl(deployment.schema),
  LOG_LEVEL: 'silent',
  RETENTION_INTERVAL_SECONDS: '0',
});
const a = await startCliServer(env(deployment.nodeDir()));
const b = await startCliServer(env(deployment.nodeDir()));
const token = async (url: string, agent: string) =>
  (await callHttpTool(url, 'authenticate_agent', { agent_id: agent, api_key: deployment.keys.API_KEY })).body
    .token as string;
try {
  const writer = { authorization: `Bearer ${await token(a.url, 'restart-writer')}` };
  const sessionId = (await callHttpTool(a.url, 'create_session', { purpose: 'restart' }, writer)).body
    .session_id as string;
  const socket = await TestSocket.open(b.url, 'restart-reader', {
    headers: { authorization: `Bearer ${await token(b.url, 'restart-reader')}` },
  });
  socket.send({ type: 'subscribe', session_id: sessionId, after_id: 0 });
  await socket.waitFor((f) => f.type === 'subscribed');
  const acknowledged: number[] = [];
  for (let i = 0; i < 20; i++) {
    acknowledged.push(
      (await callHttpTool(a.url, 'add_message', { session_id: sessionId, content: `before ${i}` }, writer))
        .body.message_id as number,
    );
  }
  const version = readdirSync('/etc/postgresql')[0]!;
  const started = Date.now();
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
  console.log(`PostgreSQL restarted in ${Date.now() - started} ms`);
  // Writes fail while the pool reconnects; the first that succeeds is acknowledged.
  let after: number | undefined;
  await until(async () => {
    const { status, body } = await callHttpTool(
      a.url,
      'add_message',
      { session_id: sessionId, content: 'after' },
      writer,
    );
    if (status === 200) after = body.message_id as number;
    return after !== undefined;
  }, 30_000);
  console.log(`first write acknowledged ${Date.now() - started} ms after the restart began`);
  const pushed = () => socket.ofType('session_message').map((f) => (f.message as { id: number }).id);
  await until(() => pushed().includes(after!), 30_000);
  const ids = pushed();
  const expected = [...acknowledged, after!];
  const ok = JSON.stringify(ids) === JSON.stringify(expected);
  console.log(
    `subscriber on node 2 got ${ids.length} messages, ${ok ? 'each once, in order' : `MISMATCH: ${JSON.stringify(ids)}`}`,
  );
  const stored = await callHttpTool(b.url, 'get_messages', { session_id: sessionId, limit: 100 }, writer);
  const storedIds = (stored.body.messages as Array<{ id: number }>).map((m) => m.id);
  const lost = expected.filter((id) => !storedIds.includes(id));
  console.log(`acknowledged writes lost: ${lost.length}`);
  await socket.close();
  process.exitCode = ok && lost.length === 0 ? 0 : 1;
} finally {
  await a.stop();
  await b.stop();
  await deployment.drop();
}
