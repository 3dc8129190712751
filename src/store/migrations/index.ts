import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../store.js';
import * as initial from './0001-initial.js';
import * as agentsMail from './0002-agents-mail.js';
import * as searchVocabulary from './0003-search-vocabulary.js';
import * as agentKeys from './0004-agent-keys.js';
import * as changes from './0005-changes.js';
import * as nodeState from './0006-node-state.js';
import * as agentRevocations from './0007-agent-revocations.js';
import * as wordVocabulary from './0008-word-vocabulary.js';
import * as sessionSearch from './0009-session-search.js';
import * as messageCounts from './0010-message-counts.js';
import * as wordSearch from './0011-word-search.js';

type DialectMigration = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/** Versioned migrations in order. Names are permanent once released. */
const MIGRATIONS: Record<string, DialectMigration> = {
  '0001-initial': initial,
  '0002-agents-mail': agentsMail,
  '0003-search-vocabulary': searchVocabulary,
  '0004-agent-keys': agentKeys,
  '0005-changes': changes,
  '0006-node-state': nodeState,
  '0007-agent-revocations': agentRevocations,
  '0008-word-vocabulary': wordVocabulary,
  '0009-session-search': sessionSearch,
  '0010-message-counts': messageCounts,
  '0011-word-search': wordSearch,
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, migration] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (db) => migration.up(db, dialect) };
      }
      return out;
    },
  };
}
