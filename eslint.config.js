// eslint (flat config): typescript-eslint's recommended rules everywhere (framework/, test/,
// bench/, app/, config/, bin/), and on framework/ only the two rules that guard the layer plan
// (eslint-rules/layers.js, the order in eslint.layers.js).
// No formatting rules: the code's style is kept by review, not rewritten by a tool. `no-undef`
// is off (typescript-eslint's choice: tsc checks names in .ts files).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import layersPlugin from './eslint-rules/layers.js'
import { layers, layerExempt } from './eslint.layers.js'

const guarded = { root: 'framework' }

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'run/**', 'templates/**', '.sd/**'] },
  {
    files: ['**/*.{ts,js,mjs}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // `_`-prefixed names are the codebase's way to say "unused on purpose"
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `try { … } catch {}` is the codebase's best-effort cleanup
      'no-empty': ['error', { allowEmptyCatch: true }],
      // user text is cleaned of control characters with regexes that name them on purpose
      'no-control-regex': 'off',
      // `let app` declared before the closures that read it, assigned once after them
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['framework/**/*.{ts,mjs}'],
    plugins: { layers: layersPlugin },
    rules: { 'layers/no-cycle': ['error', guarded] },
  },
  {
    files: ['framework/**/*.ts'],
    ignores: layerExempt,
    rules: { 'layers/layer-order': ['error', { ...guarded, layers: layers.map((l) => l.folder) }] },
  },
)
