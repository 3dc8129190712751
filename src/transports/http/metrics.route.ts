import type { ServerResponse } from 'node:http';
import type { Services } from '../../app/services.js';

/** GET /metrics: Prometheus text format. Counts and timings only — no agent data. */
export async function handleMetrics(services: Services, res: ServerResponse): Promise<void> {
  const body = await services.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': services.metrics.registry.contentType, 'cache-control': 'no-store' });
  res.end(body);
}
