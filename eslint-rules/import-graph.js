// The import graph of one folder (framework/), for the `layers/no-cycle` rule: every source
// file's relative imports (static, type-only, re-exports, `import x = require('…')`, dynamic
// `import('…')` with a string or a template literal without expressions),
// resolved the way tsc's NodeNext does for this codebase (`./x.js` names `./x.ts`).
// Files are parsed with the TypeScript compiler already in devDependencies; each file is
// re-read only when its mtime or size changes, so one eslint run parses each file once.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { dirname, extname, join, resolve } from 'node:path'
import ts from 'typescript'

const sourceExtensions = new Set(['.ts', '.mts', '.mjs', '.js'])

/** Resolves a relative specifier from `fromFile` to an absolute path, or null (packages, node: builtins, missing files). */
export function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null
  const base = resolve(dirname(fromFile), specifier)
  const ext = extname(base)
  const stem = base.slice(0, base.length - ext.length)
  const candidates = ext === '.js' ? [`${stem}.ts`, base] : ext === '.mjs' ? [`${stem}.mts`, base] : [base, `${base}.ts`]
  for (const candidate of candidates) if (existsSync(candidate)) return candidate
  return null
}

/** The relative imports of one source text: `{ specifier, typeOnly }` each. */
export function importsOfText(fileName, text) {
  const kind = fileName.endsWith('.mjs') || fileName.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, kind)
  const found = []
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: importIsTypeOnly(node) })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly })
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ specifier: node.moduleReference.expression.text, typeOnly: node.isTypeOnly })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg && ts.isStringLiteralLike(arg)) found.push({ specifier: arg.text, typeOnly: false })
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

function importIsTypeOnly(node) {
  const clause = node.importClause
  if (!clause) return false // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true
  if (clause.name) return false
  const bindings = clause.namedBindings
  if (!bindings || !ts.isNamedImports(bindings) || bindings.elements.length === 0) return false
  return bindings.elements.every((element) => element.isTypeOnly)
}

const cache = new Map() // absolute path → { stamp, edges: [{ target, typeOnly }] }

function edgesOf(file) {
  const stat = statSync(file)
  const stamp = `${stat.mtimeMs}:${stat.size}`
  const hit = cache.get(file)
  if (hit && hit.stamp === stamp) return hit.edges
  const edges = []
  for (const { specifier, typeOnly } of importsOfText(file, readFileSync(file, 'utf8'))) {
    const target = resolveSpecifier(file, specifier)
    if (target) edges.push({ target, typeOnly })
  }
  cache.set(file, { stamp, edges })
  return edges
}

function sourceFiles(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) sourceFiles(path, out)
    else if (sourceExtensions.has(extname(entry.name)) && !entry.name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** The graph of every source file under `root`: absolute path → its resolved edges. */
export function importGraph(root) {
  const graph = new Map()
  for (const file of sourceFiles(root)) graph.set(file, edgesOf(file))
  return graph
}

/**
 * A shortest path of imports from `from` to `to` (both included), or null when `to` is not
 * reachable. Type-only edges are followed unless `ignoreTypeImports`.
 */
export function importPath(graph, from, to, ignoreTypeImports) {
  const previous = new Map([[from, null]])
  const queue = [from]
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]
    if (file === to) {
      const path = []
      for (let at = to; at !== null; at = previous.get(at)) path.unshift(at)
      return path
    }
    for (const { target, typeOnly } of graph.get(file) ?? []) {
      if ((ignoreTypeImports && typeOnly) || previous.has(target)) continue
      previous.set(target, file)
      queue.push(target)
    }
  }
  return null
}
