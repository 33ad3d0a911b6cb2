// Local eslint plugin `layers`: two rules that guard the layer plan of framework/.
// - `layers/layer-order`: an import may point only to the file's own folder or to a folder
//   earlier in the list from eslint.layers.js (types included); a dynamic import of a
//   computed specifier is reported, since it cannot be checked.
// - `layers/no-cycle`: an import must not close a cycle of imports (types included unless
//   `ignoreTypeImports`); the message names every file on the cycle.
// Both take `{ root }`, the folder they guard relative to the eslint working directory.
import { relative, resolve, sep } from 'node:path'
import { importGraph, importPath, resolveSpecifier } from './import-graph.js'

/**
 * Calls `check(node, specifier, typeOnly)` for every import, re-export, `import x = require()`
 * and dynamic import whose specifier is a string (or a template literal without expressions);
 * calls `unchecked(node)` for a dynamic import whose specifier is computed.
 */
function importVisitors(check, unchecked = () => {}) {
  const literal = (node) => {
    if (node?.type === 'Literal' && typeof node.value === 'string') return node.value
    if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked ?? null
    return null
  }
  return {
    ImportDeclaration(node) {
      const specifiers = node.specifiers
      const typeOnly = node.importKind === 'type' ||
        (specifiers.length > 0 && specifiers.every((s) => s.type === 'ImportSpecifier' && s.importKind === 'type'))
      check(node, node.source.value, typeOnly)
    },
    ExportNamedDeclaration(node) {
      if (node.source) check(node, node.source.value, node.exportKind === 'type')
    },
    ExportAllDeclaration(node) {
      check(node, node.source.value, node.exportKind === 'type')
    },
    TSImportEqualsDeclaration(node) {
      if (node.moduleReference.type !== 'TSExternalModuleReference') return // `import x = N.y` names a namespace
      const specifier = literal(node.moduleReference.expression)
      if (specifier !== null) check(node, specifier, node.importKind === 'type')
    },
    ImportExpression(node) {
      const specifier = literal(node.source)
      if (specifier !== null) check(node, specifier, false)
      else unchecked(node)
    },
    TSImportType(node) {
      const specifier = literal(node.argument?.literal)
      if (specifier !== null) check(node, specifier, true)
    },
  }
}

const rootOption = {
  type: 'object',
  properties: { root: { type: 'string' }, layers: { type: 'array', items: { type: 'string' } }, ignoreTypeImports: { type: 'boolean' } },
  required: ['root'],
  additionalProperties: false,
}

const posix = (path) => path.split(sep).join('/')

const layerOrder = {
  meta: {
    type: 'problem',
    docs: { description: 'imports point only to the same folder or to an earlier layer (eslint.layers.js)' },
    schema: [rootOption],
    messages: {
      upward: "{{from}} (layer {{fromRank}}, '{{fromLayer}}') may not import {{to}} (layer {{toRank}}, '{{toLayer}}'){{kind}}: layers may import only their own folder or earlier ones (eslint.layers.js)",
      outside: '{{from}} may not import {{to}}: it is outside {{root}}/',
      unknown: "folder '{{folder}}' is not in the layer list (eslint.layers.js)",
      computed: '{{from}}: a dynamic import of a computed specifier cannot be checked against the layer order; use a string, or disable this line saying why',
    },
  },
  create(context) {
    const { root: rootName, layers } = context.options[0]
    const root = resolve(context.cwd, rootName)
    const file = context.filename
    const fromRel = posix(relative(root, file))
    const folderOf = (rel) => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : null)
    const fromLayer = folderOf(fromRel)
    if (fromRel.startsWith('..') || fromLayer === null) return {}
    const fromRank = layers.indexOf(fromLayer)
    return {
      Program(node) {
        if (fromRank === -1) context.report({ node, messageId: 'unknown', data: { folder: fromLayer } })
      },
      ...importVisitors((node, specifier, typeOnly) => {
        if (fromRank === -1) return
        const target = resolveSpecifier(file, specifier)
        if (!target) return
        const toRel = posix(relative(root, target))
        if (toRel.startsWith('..')) {
          context.report({ node, messageId: 'outside', data: { from: fromRel, to: posix(relative(context.cwd, target)), root: rootName } })
          return
        }
        const toLayer = folderOf(toRel)
        const toRank = toLayer === null ? Infinity : layers.indexOf(toLayer)
        if (toRank !== -1 && toRank <= fromRank) return
        context.report({
          node,
          messageId: 'upward',
          data: {
            from: fromRel, fromRank: fromRank + 1, fromLayer,
            to: toRel, toRank: toRank === Infinity || toRank === -1 ? '?' : toRank + 1, toLayer: toLayer ?? toRel,
            kind: typeOnly ? ' (type-only import)' : '',
          },
        })
      }, (node) => {
        if (fromRank !== -1) context.report({ node, messageId: 'computed', data: { from: fromRel } })
      }),
    }
  },
}

const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'no import cycles inside the guarded folder' },
    schema: [rootOption],
    messages: { cycle: 'import cycle: {{path}}' },
  },
  create(context) {
    const { root: rootName, ignoreTypeImports = false } = context.options[0]
    const root = resolve(context.cwd, rootName)
    const file = context.filename
    if (posix(relative(root, file)).startsWith('..')) return {}
    let graph = null // built on the first import, shared across files through the module cache
    return importVisitors((node, specifier, typeOnly) => {
      if (ignoreTypeImports && typeOnly) return
      const target = resolveSpecifier(file, specifier)
      if (!target || posix(relative(root, target)).startsWith('..')) return
      graph ??= importGraph(root)
      const back = importPath(graph, target, file, ignoreTypeImports)
      if (!back) return
      const path = [file, ...back].map((f) => posix(relative(root, f))).join(' → ')
      context.report({ node, messageId: 'cycle', data: { path } })
    })
  },
}

export default {
  meta: { name: 'layers' },
  rules: { 'layer-order': layerOrder, 'no-cycle': noCycle },
}
