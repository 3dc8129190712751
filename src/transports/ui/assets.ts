import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue } from '../http/request.js';

/** The package root: src/transports/ui/ and dist/transports/ui/ are both three levels down. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI_DIR = path.join(ROOT, 'ui');

/** What the HTML shell may load: only this server; inline styles for uPlot's and Preact's style props. */
export const UI_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

interface Asset {
  readonly body: Buffer;
  /** The same bytes gzipped once (the bundle shrinks to about a third). */
  readonly gzipped: Buffer;
  readonly type: string;
  readonly etag: string;
}

const asset = (body: Buffer, type: string): Asset => ({
  body,
  gzipped: gzipSync(body, { level: 9 }),
  type,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
});

/** The shell, stylesheet and entry script: the first load. Chunks of the script come on demand. */
const BUILDERS: Record<string, () => Promise<Asset>> = {
  'index.html': async () =>
    asset(await readFile(path.join(UI_DIR, 'index.html')), 'text/html; charset=utf-8'),
  'app.js': async () => script('app.js'),
  // uPlot's stylesheet goes after ours: the bundle imports no CSS, so esbuild needs no CSS handling.
  'app.css': async () =>
    asset(
      Buffer.concat([
        await readFile(path.join(UI_DIR, 'styles.css')),
        Buffer.from('\n'),
        await readFile(path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.min.css')),
      ]),
      'text/css; charset=utf-8',
    ),
};

/** The names esbuild gives the chunks of the script (pages loaded on demand, code they share). */
const CHUNK_NAME = /^chunk-[A-Z0-9]{8}\.js$/;

let scripts: Promise<Map<string, Asset>> | undefined;

/** One file of the script's build (the entry, app.js, or a chunk), built once for all of them. */
async function script(name: string): Promise<Asset> {
  if (scripts === undefined) {
    scripts = bundleScripts();
    scripts.catch(() => (scripts = undefined));
  }
  const file = (await scripts).get(name);
  if (file === undefined) throw new AssetMissing(name);
  return file;
}

class AssetMissing extends Error {}

/**
 * The script is built once, on the first request for it, and kept in memory: `npm start` needs no
 * build step and `dist/` carries no copy. esbuild itself is loaded then too (docs/memory.md). A failed build is not kept (fix the file, reload). Pages
 * that pull in a large library (the metrics page and uPlot) are split off and loaded when opened,
 * which keeps the first load small.
 */
async function bundleScripts(): Promise<Map<string, Asset>> {
  // esbuild is loaded here, not at start: a server nobody opens the dashboard of never needs it.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { app: path.join(UI_DIR, 'src', 'main.tsx') },
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    outdir: path.join(UI_DIR, 'out'),
    chunkNames: 'chunk-[hash]',
    minify: true,
    format: 'esm',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const files = new Map<string, Asset>();
  for (const out of result.outputFiles) {
    files.set(path.basename(out.path), asset(Buffer.from(out.contents), 'text/javascript; charset=utf-8'));
  }
  if (!files.has('app.js')) throw new Error('esbuild produced no app.js for ui/src/main.tsx');
  return files;
}

export class UiAssets {
  private readonly cache = new Map<string, Promise<Asset>>();

  /** Whether `name` (relative to /ui/) may be one of the served files (a chunk: when it was built). */
  has(name: string): boolean {
    return Object.hasOwn(BUILDERS, name) || CHUNK_NAME.test(name);
  }

  /** Serves a file: revalidated on every load (ETag, `no-cache`), 304 when unchanged. */
  async serve(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    let file: Asset;
    try {
      file = CHUNK_NAME.test(name) ? await script(name) : await this.load(name);
    } catch (error) {
      if (!(error instanceof AssetMissing)) throw error;
      res.writeHead(404, {
        'content-type': 'text/plain; charset=utf-8',
        'x-content-type-options': 'nosniff',
      });
      res.end(`No dashboard file ${name}.`);
      return;
    }
    const headers: Record<string, string> = {
      'content-type': file.type,
      'cache-control': 'no-cache',
      vary: 'accept-encoding',
      etag: file.etag,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (name === 'index.html') headers['content-security-policy'] = UI_CSP;
    if (headerValue(req, 'if-none-match') === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(headerValue(req, 'accept-encoding') ?? '');
    const body = gzip ? file.gzipped : file.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private load(name: string): Promise<Asset> {
    let loading = this.cache.get(name);
    if (loading === undefined) {
      const builder = BUILDERS[name];
      if (builder === undefined) throw new Error(`no dashboard asset ${name}`);
      loading = builder();
      this.cache.set(name, loading);
      loading.catch(() => this.cache.delete(name));
    }
    return loading;
  }
}
