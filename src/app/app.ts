import type { Config } from '../config/config.js';
import { createLogger, type Logger } from '../logger.js';
import { createHttpApp, type HttpApp } from '../transports/http/http-server.js';
import { createServices, type Services } from './services.js';
import { startRetention } from './retention.js';
import { writeRuntimeFile } from './runtime-file.js';

export interface RunningApp {
  readonly services: Services;
  readonly http: HttpApp;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Opens the store, wires the services and serves HTTP. `stop` finishes in-flight writes first.
 * While serving, `DATA_DIR/server.json` names this process and its URL (for `status` and
 * `client-config`, which would otherwise only know the configured port).
 */
export async function startApp(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningApp> {
  const services = await createServices(config, logger);
  const http = createHttpApp(services);
  const { host, port } = await http.listen();
  const retention = startRetention(services);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const runtimeFile = writeRuntimeFile(
    config.dataDir,
    connectableUrl(host, port),
    config.apiKey !== undefined ? 'environment' : 'keys.json',
  );
  logger.info({ url, database: config.database.kind }, 'shared-context-server listening');
  let stopping: Promise<void> | undefined;
  return {
    services,
    http,
    url,
    stop() {
      stopping ??= (async () => {
        retention.stop();
        await http.close();
        await services.close();
        runtimeFile.remove();
        logger.info('shared-context-server stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}

/** The URL a local client dials: a wildcard bind address is reached through loopback. */
function connectableUrl(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
