/**
 * Part 2 of pg.bench.ts: delivery latency across nodes. Two server nodes on one PostgreSQL schema;
 * a writer on node 1 adds `rate` messages/s for `seconds` over the HTTP tool route; one WebSocket
 * subscriber on node 1 (same node: woken by the node's own commit) and one on node 2 (cross node:
 * woken by LISTEN/NOTIFY). Latency = receive − send, one clock (subscriber-pool.ts).
 */
import { startServer } from './add-message-load.js';
import { spawnChild } from './child.js';
import { type ServerInfo, table } from './common.js';
import { keepAliveAgent, post, round, summarize } from './load.js';
import { SERVER, pgEnv, stopAll, withSchema } from './pg-nodes.js';
import { SubscriberPool, fail, paced, sendIndexed, waitForReceipts } from './subscriber-pool.js';

/** Messages sent first and not counted (JIT, first connections). */
const WARMUP = 10;
export const GOAL_P99_MS = 50;

/** A token for `agentId` from a node, with the shared API key. */
async function tokenFor(info: ServerInfo, agentId: string): Promise<string> {
  const agent = keepAliveAgent(1);
  const res = await post(
    agent,
    `${info.url}/mcp/tool/authenticate_agent`,
    JSON.stringify({ agent_id: agentId, agent_type: 'generic', api_key: info.apiKey }),
  ).finally(() => agent.destroy());
  const token = (JSON.parse(res.body) as { token?: string }).token;
  if (res.status !== 200 || token === undefined) fail('authenticate_agent', res);
  return token;
}

export const benchDelivery = ({ rate, seconds }: { rate: number; seconds: number }) =>
  withSchema(async (url) => {
    const total = WARMUP + Math.round(rate * seconds);
    const gapMs = 1000 / rate;
    console.log(
      `\n2. delivery: node 1 writes ${total - WARMUP} messages (+${WARMUP} warm-up) at ${rate}/s; ` +
        'a WebSocket subscriber on node 1 and one on node 2',
    );
    const node1 = await startServer(SERVER, pgEnv(url));
    const node2 = await spawnChild<ServerInfo>(SERVER, pgEnv(url, 'bench-agent-2'));
    const pools: SubscriberPool[] = [];
    const writer = keepAliveAgent(1);
    try {
      const sessionId = node1.sessionId;
      for (const [node, agentId] of [
        [node1.child.info, 'reader-same-node'],
        [node2.info, 'reader-cross-node'],
      ] as const) {
        const pool = new SubscriberPool({
          transport: 'websocket',
          url: node.url,
          sessionId,
          subscribers: [{ agentId, token: await tokenFor(node, agentId) }],
          total,
        });
        await pool.connect();
        pools.push(pool);
      }
      const sentAt = new Float64Array(total);
      const writeMs: number[] = [];
      await paced(total, gapMs, async (k) => {
        sentAt[k] = await sendIndexed(writer, node1.child.info.url, node1.auth, sessionId, k);
        if (k >= WARMUP) writeMs.push(performance.timeOrigin + performance.now() - sentAt[k]!);
      });
      await waitForReceipts(() => pools.reduce((sum, p) => sum + p.received, 0), pools.length * total);
      const interval = (sentAt[total - 1]! - sentAt[WARMUP]!) / Math.max(1, total - WARMUP - 1);
      const rows = pools.map((pool, i) => {
        const latencies: number[] = [];
        for (let k = WARMUP; k < total; k++) {
          const at = pool.receipts[k]!;
          if (!Number.isNaN(at)) latencies.push(at - sentAt[k]!);
        }
        return {
          subscriber: i === 0 ? 'same node (node 1)' : 'cross node (node 2)',
          delivered: latencies.length,
          expected: total - WARMUP,
          duplicates: pool.duplicates,
          latencyMs: summarize(latencies),
          ...(pool.firstError !== undefined ? { firstError: pool.firstError } : {}),
        };
      });
      const same = rows[0]!.latencyMs;
      const writes = summarize(writeMs);
      console.log();
      console.log(
        table(
          [
            'subscriber',
            'delivered',
            'p50 ms',
            'p90 ms',
            'p99 ms',
            'max ms',
            '× same node p99',
            `p99 ≤ ${GOAL_P99_MS} ms`,
          ],
          rows.map((r) => [
            r.subscriber,
            `${r.delivered}/${r.expected}`,
            r.latencyMs.p50,
            r.latencyMs.p90,
            r.latencyMs.p99,
            r.latencyMs.max,
            round(r.latencyMs.p99 / same.p99, 2),
            r.delivered === r.expected && r.latencyMs.p99 <= GOAL_P99_MS ? 'met' : 'MISSED',
          ]),
        ),
      );
      console.log(
        `latency = receive − send (one clock); writer add_message p50 ${writes.p50} ms, p99 ${writes.p99} ms; ` +
          `sent every ${round(interval)} ms` +
          rows.map((r) => (r.firstError ? `; ${r.subscriber} error: ${r.firstError}` : '')).join(''),
      );
      return {
        rate: rate,
        seconds: seconds,
        sendIntervalMs: round(interval),
        writeMs: writes,
        rows,
      };
    } finally {
      for (const pool of pools) pool.close();
      writer.destroy();
      await stopAll([node1.child, node2]);
    }
  });
