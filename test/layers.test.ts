import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The layer rules' findings (import and `services.store.db` rules) for a file, as "rule: line". */
const layerFindings = (results: ESLint.LintResult[]): string[] =>
  results
    .flatMap((r) => r.messages)
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => `${m.ruleId}: ${m.line}`);

describe('the layer rule (eslint.config.js)', () => {
  const eslint = new ESLint({ cwd: ROOT });

  it('reports a transport that imports a repository or reaches services.store.db', async () => {
    // A real file in src/transports/, so the folder globs of the config are what decides.
    const probe = path.join(ROOT, 'src', 'transports', `layers-probe-${process.pid}.ts`);
    writeFileSync(
      probe,
      [
        "import { listInbox } from '../agents/mail.repository.js';",
        "import type { Services } from '../app/services.js';",
        '',
        'export const probe = (services: Services) => listInbox(services.store.db, "a", {}, 1);',
        '',
      ].join('\n'),
    );
    try {
      const findings = layerFindings(await eslint.lintFiles([probe]));
      expect(findings).toEqual(['no-restricted-imports: 1', 'no-restricted-syntax: 4']);
    } finally {
      rmSync(probe, { force: true });
    }
  }, 60_000);

  it('lets a transport import services and tools, and reports nothing in the WebSocket transport', async () => {
    const results = await eslint.lintFiles([
      path.join(ROOT, 'src', 'transports', 'ws', 'agent-socket.ts'),
      path.join(ROOT, 'src', 'transports', 'ws', 'ws-server.ts'),
    ]);
    expect(layerFindings(results)).toEqual([]);
  }, 60_000);

  it('reports a repository that imports a service, and the store importing a feature service', async () => {
    const repository = await eslint.lintText(
      "import { MailService } from './mail.service.js';\nexport type M = MailService;\n",
      { filePath: path.join(ROOT, 'src', 'agents', 'probe.repository.ts') },
    );
    expect(layerFindings(repository)).toEqual(['no-restricted-imports: 1']);
    const store = await eslint.lintText(
      "import type { SessionView } from '../sessions/session.service.js';\nexport type S = SessionView;\n",
      { filePath: path.join(ROOT, 'src', 'store', 'probe.ts') },
    );
    expect(layerFindings(store)).toEqual(['no-restricted-imports: 1']);
  }, 60_000);

  it('reports a service that opens its own transaction instead of writing through the store', async () => {
    const service = await eslint.lintText(
      [
        "import type { Storage } from '../store/store.js';",
        'export class Probe {',
        '  constructor(private readonly store: Storage) {}',
        '  direct() {',
        '    return this.store.db.transaction().execute(async () => 1);',
        '  }',
        '  owned() {',
        '    return this.store.write(async () => 1);',
        '  }',
        '}',
        '',
      ].join('\n'),
      { filePath: path.join(ROOT, 'src', 'memory', 'probe.service.ts') },
    );
    expect(layerFindings(service)).toEqual(['no-restricted-syntax: 5']);
  }, 60_000);
});
