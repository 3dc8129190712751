import type { ServerResponse } from 'node:http';
import type { Services } from '../../app/services.js';
import { VERSION } from '../../version.js';
import { sendJson } from './request.js';

/** GET /health: 200 when the database answers, 503 when it does not. No auth, no data. */
export async function handleHealth(services: Services, res: ServerResponse): Promise<void> {
  const started = performance.now();
  try {
    await services.store.ping();
    sendJson(res, 200, {
      status: 'ok',
      version: VERSION,
      database: {
        dialect: services.store.dialect,
        reachable: true,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      },
      uptime_s: Math.round(process.uptime()),
    });
  } catch {
    sendJson(res, 503, {
      status: 'unavailable',
      version: VERSION,
      database: { dialect: services.store.dialect, reachable: false },
    });
  }
}
