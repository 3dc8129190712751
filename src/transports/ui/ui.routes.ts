import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../../app/services.js';
import { sendJson } from '../http/request.js';
import type { UiAssets } from './assets.js';
import { UI_API_PREFIX, handleUiApi } from './ui-api.js';

/**
 * The dashboard's live socket (live.ts). Defined here, beside the other paths, so the HTTP server can
 * route to it without importing live.ts and `ws` before the first dashboard connects.
 */
export const UI_LIVE_PATH = '/ui/live';

/** Whether a path belongs to the dashboard. */
export const isUiPath = (path: string): boolean => path === '/ui' || path.startsWith('/ui/');

/**
 * Everything under /ui: the API, and the page (shell, script, stylesheet), which is served
 * without login — the page itself shows the login form. A path of the page's own navigation
 * (no file extension) gets the shell too, so a reload of /ui/sessions/… works.
 */
export async function handleUi(
  services: Services,
  assets: UiAssets,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  bodyLimit: number,
): Promise<void> {
  if (path.startsWith(UI_API_PREFIX)) return handleUiApi(services, req, res, path, bodyLimit);
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') {
    if (path === '/ui') {
      const search = (req.url ?? '').slice(path.length);
      res.writeHead(301, { location: `/ui/${search}`, 'content-length': '0' });
      res.end();
      return;
    }
    const name = path.slice('/ui/'.length);
    if (name === '') return assets.serve(req, res, 'index.html');
    if (assets.has(name)) return assets.serve(req, res, name);
    if (!name.includes('.') && !name.startsWith('api/') && name !== 'live') {
      return assets.serve(req, res, 'index.html');
    }
  }
  sendJson(res, 404, {
    success: false,
    code: 'NOT_FOUND',
    error: `Nothing at ${method} ${path}. The dashboard is at /ui/, its API under /ui/api/.`,
  });
}
