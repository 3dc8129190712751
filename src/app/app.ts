import type { Config } from '../config/config.js';
import { createLogger, type Logger } from '../logger.js';
import { createHttpApp, type HttpApp } from '../transports/http/http-server.js';
import { createServices, type Services } from './services.js';
import { startRetention } from './retention.js';

export interface RunningApp {
  readonly services: Services;
  readonly http: HttpApp;
  readonly url: string;
  stop(): Promise<void>;
}

/** Opens the store, wires the services and serves HTTP. `stop` finishes in-flight writes first. */
export async function startApp(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningApp> {
  const services = await createServices(config, logger);
  const http = createHttpApp(services);
  const { host, port } = await http.listen();
  const retention = startRetention(services);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
        logger.info('shared-context-server stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}
