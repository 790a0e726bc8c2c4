// Lint rules, including the import boundaries of ../shared/DESIGN.md ("who may import whom").
import tseslint from 'typescript-eslint';

/** Folders under src/ and the src/ folders each may NOT import (relative imports are matched). */
const forbidden = {
  lib: ['config', 'mail', 'store', 'auth', 'accounts', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  config: ['mail', 'store', 'auth', 'accounts', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  mail: ['config', 'store', 'auth', 'accounts', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  store: ['auth', 'accounts', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  auth: ['store/sqlite', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  accounts: ['store/sqlite', 'policy', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  policy: ['store/sqlite', 'auth', 'accounts', 'delivery', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  delivery: ['store/sqlite', 'net', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  net: ['config', 'mail', 'store', 'auth', 'accounts', 'policy', 'delivery', 'smtp', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  smtp: ['store/sqlite', 'imap', 'pop3', 'http', 'cli', 'jobs'],
  imap: ['store/sqlite', 'smtp', 'pop3', 'http', 'cli', 'jobs', 'policy', 'delivery'],
  pop3: ['store/sqlite', 'smtp', 'imap', 'http', 'cli', 'jobs', 'policy', 'delivery'],
  http: ['store/sqlite', 'smtp', 'imap', 'pop3', 'cli'],
  cli: ['store/sqlite', 'smtp', 'imap', 'pop3', 'http'],
  jobs: ['store/sqlite', 'smtp', 'imap', 'pop3', 'http', 'cli'],
};

function boundary(folder, targets, files = [`src/${folder}/**/*.ts`], sqlAllowed = false) {
  // A file in src/<folder>/a/b.ts reaches src/<target> through some number of "../".
  const patterns = targets.flatMap((t) => [`**/src/${t}`, `**/src/${t}/**`, ...['../', '../../', '../../../', '../../../../'].flatMap((up) => [`${up}${t}`, `${up}${t}/**`, `${up}${t}.js`, `${up}${t}/*.js`])]);
  const paths = sqlAllowed ? [] : [{ name: 'better-sqlite3', message: 'No SQL outside src/store/sqlite (DESIGN.md).' }];
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { paths, patterns: [{ group: patterns, message: `DESIGN.md: src/${folder} may not import this folder.` }] }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'bin/**', 'coverage/**', 'bench/out/**', '.vitest-tmp/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'process.env only inside src/config (DESIGN.md).' },
        { selector: "NewExpression[callee.name='Database']", message: 'Open SQLite connections with store/sqlite/connection.ts openDatabase (no statement may be garbage-collected on Node 24).' },
        { selector: "CallExpression[callee.property.name='matchAll']", message: 'Use lib/regex.ts matchesOf: matchAll copies the expression, and the copy is compiled again after garbage collections.' },
      ],
    },
  },
  { files: ['src/config/**', 'test/**', 'bench/**', 'scripts/**', 'src/store/sqlite/connection.ts'], rules: { 'no-restricted-syntax': 'off' } },
  ...Object.entries(forbidden)
    .filter(([folder]) => folder !== 'store')
    .map(([folder, targets]) => boundary(folder, targets)),
  // store/port.ts may not reach SQL; store/sqlite/ is the one place that may.
  boundary('store', forbidden.store, ['src/store/*.ts']),
  boundary('store', forbidden.store, ['src/store/sqlite/**/*.ts'], true),
);
