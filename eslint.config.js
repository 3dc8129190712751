import tseslint from 'typescript-eslint';

/*
 * Layers point one way: transports → tools → services → repositories → store (STYLE.md rule 1).
 * Each folder's `no-restricted-imports` names what it may not reach. ESLint keeps only the last
 * matching setting of a rule per file, so the file sets below do not overlap.
 * test/layers.test.ts checks that the rule still fires.
 */
const REPOSITORIES = '**/*.repository.js';
const STORE = '**/store/**';
const VISIBILITY = '**/visibility.js';
const SERVICES = '**/*.service.js';
const TOOLS = ['**/*.tools.js', '**/tools/**'];
const TRANSPORTS = ['**/transports/**', '**/cli/**'];

/** A set of forbidden import paths, with the message that says which way to go instead. */
const forbid = (group, message) => ({ group: [group].flat(), message });

/** `services.store.db` reaches around the services without importing anything: forbidden where imports are. */
const noStoreHandle = {
  'no-restricted-syntax': [
    'error',
    {
      selector: "MemberExpression[property.name='db'][object.property.name='store']",
      message: 'Read and write through a service method, not services.store.db.',
    },
  ],
};

const layers = [
  {
    // The edges: MCP, HTTP, WebSocket, stdio and the command line.
    files: ['src/transports/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(
              REPOSITORIES,
              'Transports call services (services.<feature>.<method>), never repositories.',
            ),
            // open-store is the store's factory: `migrate` and `keys` open the database with no server.
            forbid(
              [STORE, '!**/store/open-store.js'],
              'Transports see no store: go through a service (add a method if one is missing).',
            ),
            forbid(VISIBILITY, 'Visibility is decided in the services: use services.messages.canSee.'),
          ],
        },
      ],
      ...noStoreHandle,
    },
  },
  {
    // The app layer calls services; services.ts is the composition root that wires the store in.
    files: ['src/app/**/*.ts'],
    ignores: ['src/app/services.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(REPOSITORIES, 'The app layer calls services, never repositories.'),
            forbid(STORE, 'The app layer calls services; only services.ts opens the store.'),
            forbid(VISIBILITY, 'Visibility is decided in the services.'),
          ],
        },
      ],
      ...noStoreHandle,
    },
  },
  {
    // Tool definitions and the registry: schemas and a handler calling a service.
    files: ['src/**/*.tools.ts', 'src/tools/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(REPOSITORIES, 'A tool handler calls a service, never a repository.'),
            forbid(STORE, 'A tool handler calls a service, never the store.'),
            forbid(TRANSPORTS, 'Tools are transport-free: each transport exposes them.'),
          ],
        },
      ],
      ...noStoreHandle,
    },
  },
  {
    files: ['src/**/*.repository.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(SERVICES, 'Repositories sit below services: services call them, not the reverse.'),
            forbid(TOOLS, 'Repositories sit below tools.'),
            forbid(TRANSPORTS, 'Repositories sit below transports.'),
          ],
        },
      ],
    },
  },
  {
    // Services (and the realtime/events/metrics core beside them).
    files: [
      'src/{agents,audit,auth,memory,messages,search,sessions,guidance,realtime,events,metrics}/**/*.ts',
    ],
    ignores: ['src/**/*.tools.ts', 'src/**/*.repository.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(TOOLS, 'Services sit below tools: a tool calls a service, not the reverse.'),
            forbid(TRANSPORTS, 'Services sit below transports.'),
          ],
        },
      ],
      // One write path: the store decides how writes run (group commit on SQLite).
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transaction']",
          message: 'Write through this.store.write(trx => …): the store decides how writes run.',
        },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(
              [
                ...['agents', 'audit', 'auth', 'memory', 'messages', 'search', 'sessions', 'guidance'].map(
                  (feature) => `**/${feature}/**`,
                ),
                // Two leaves with nothing above the store behind them: the visibility rule (the SQL
                // condition the search index filters by) and the SearchIndex interface it implements.
                '!**/messages/visibility.js',
                '!**/search/search-index.js',
              ],
              'The store sits below the features: it may not import their services, repositories or views.',
            ),
            forbid(
              ['**/realtime/**', '**/events/**', '**/app/**'],
              'The store sits below the realtime core and the app.',
            ),
            forbid(TOOLS, 'The store sits below tools.'),
            forbid(TRANSPORTS, 'The store sits below transports.'),
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layers,
);
