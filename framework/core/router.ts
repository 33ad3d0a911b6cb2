/**
 * The shared router: `/name/method` → `NameController.method` by convention, plus custom
 * rules from `config/routes.ts` (`'GET /': 'Home.index'`, `'/users/:id': 'User.show'`).
 * Every transport resolves paths here, HTTP included; none of them knows about controllers.
 */
import type { TransportName } from './contract.js'
import { SdError } from './errors.js'
import type { ControllerClass } from './controller.js'
import { compileValidator, type ActionValidator } from './validation.js'

/** One custom route: `'GET /': 'Home.index'` or the object form. */
export interface RouteSpec {
  /** `Name.method` of the action. */
  action: string
  /** Transports that may call it (default: all). */
  transports?: TransportName[]
}

/** `config/routes.ts`: custom rules; keys are `'[METHOD ]/path/:param'`. */
export type RoutesConfig = Record<string, string | RouteSpec>

/** A resolved action. */
export interface Route {
  /** `Name.method`, for logs and errors. */
  readonly name: string
  readonly controller: ControllerClass
  readonly method: string
  /** Transports allowed to call it; `null` means all. */
  readonly transports: ReadonlySet<TransportName> | null
  /** Checks the data against the action's schema (`static schemas`); `null`: no schema. */
  readonly validate: ActionValidator | null
  /** An admin action (`static admin`): the pipeline asks the host's admin guard first. */
  readonly admin: boolean
}

/** A route with the params its path pattern captured. */
export interface RouteMatch {
  readonly route: Route
  readonly params: Record<string, string>
}

/** An exact path: its prebuilt match, and whether any HTTP method may call it. */
interface ExactEntry {
  readonly match: RouteMatch
  /** Convention routes answer GET, POST (and HEAD) only; method-less custom rules answer any. */
  readonly anyVerb: boolean
}

interface PatternRule {
  readonly methods: Set<string> | null
  readonly regex: RegExp
  readonly keys: string[]
  readonly route: Route
}

/** The shared, frozen params object of routes without params. */
export const noParams: Record<string, string> = Object.freeze({}) as Record<string, string>

/** Percent-decodes a path segment; a malformed escape is kept as it was sent. */
function decodeParam (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** `ChatController` → `chat`, `UserProfileController` → `userProfile`. */
export function routeName (className: string): string {
  const base = className.endsWith('Controller') ? className.slice(0, -'Controller'.length) : className
  return base.charAt(0).toLowerCase() + base.slice(1)
}

/** Public action names of a controller class: own prototype methods not starting with `_`. */
export function actionNames (controller: ControllerClass): string[] {
  const names: string[] = []
  for (const key of Object.getOwnPropertyNames(controller.prototype)) {
    if (key === 'constructor' || key.startsWith('_')) continue
    const desc = Object.getOwnPropertyDescriptor(controller.prototype, key)
    if (desc && typeof desc.value === 'function') names.push(key)
  }
  return names
}

/** The validator of `controller.schemas[method]`, compiled once per action. */
function validatorOf (controller: ControllerClass, method: string, name: string): ActionValidator | null {
  const schema = controller.schemas?.[method]
  return schema ? compileValidator(schema, name) : null
}

/** The actions `static admin` marks (`true`: all); throws when it names no public method (a typo would leave it open). */
function adminActions (controller: ControllerClass, className: string, actions: readonly string[]): ReadonlySet<string> {
  const mark = controller.admin
  if (mark === undefined) return new Set()
  if (mark === true) return new Set(actions)
  if (!Array.isArray(mark)) throw new SdError('SD_ERR_CONTROLLER_INVALID', `${className}.admin must be an array of action names or true`)
  for (const key of mark) {
    if (typeof key !== 'string' || !actions.includes(key)) throw new SdError('SD_ERR_CONTROLLER_INVALID', `${className}.admin names ${String(key)}, which is no public method`)
  }
  return new Set(mark)
}

/** Maps paths to actions; built once at boot, read on every message. */
export class Router {
  /** Exact paths, with the match object prebuilt so a lookup allocates nothing. */
  readonly #exact = new Map<string, ExactEntry>()
  readonly #methodExact = new Map<string, Route>()
  /** Method-bound rules as seen by transports that have no HTTP method (tcp, ws, text). */
  readonly #verbless = new Map<string, Route>()
  readonly #patterns: PatternRule[] = []
  readonly #byName = new Map<string, ControllerClass>()

  /** Registers a controller's public methods as `/name/method`. */
  addController (controller: ControllerClass, className = controller.name): void {
    const name = routeName(className)
    if (!name) throw new SdError('SD_ERR_CONTROLLER_INVALID', `${className} has no name`)
    this.#byName.set(className.endsWith('Controller') ? className.slice(0, -'Controller'.length) : className, controller)
    const restrict = controller.transports ?? {}
    const actions = actionNames(controller)
    for (const key of Object.keys(controller.schemas ?? {})) {
      if (!actions.includes(key)) throw new SdError('SD_ERR_CONTROLLER_INVALID', `${className}.schemas.${key} names no public method`)
    }
    const admin = adminActions(controller, className, actions)
    for (const method of actions) {
      const list = restrict[method]
      const routeName = `${className}.${method}`
      const route: Route = { name: routeName, controller, method, transports: list ? new Set(list) : null, validate: validatorOf(controller, method, routeName), admin: admin.has(method) }
      this.#exact.set(`/${name}/${method}`, { match: { route, params: noParams }, anyVerb: false })
    }
  }

  /** Adds the custom rules of `config/routes.ts`; call after every controller is added. */
  addRules (rules: RoutesConfig): void {
    for (const [key, spec] of Object.entries(rules)) {
      const { action, transports } = typeof spec === 'string' ? { action: spec, transports: undefined } : spec
      const [ctrlName, method] = action.split('.')
      const controller = this.#byName.get(ctrlName) ?? this.#byName.get(ctrlName.replace(/Controller$/, ''))
      if (!controller) throw new SdError('SD_ERR_CONFIG_INVALID', `routes['${key}'] names controller ${ctrlName}, which does not exist`)
      if (!actionNames(controller).includes(method)) {
        throw new SdError('SD_ERR_CONFIG_INVALID', `routes['${key}'] names ${action}, which is not a public method`)
      }
      const restrict = transports ?? controller.transports?.[method]
      const name = `${controller.name}.${method}`
      const admin = adminActions(controller, controller.name, actionNames(controller)).has(method)
      const route: Route = { name, controller, method, transports: restrict ? new Set(restrict) : null, validate: validatorOf(controller, method, name), admin }
      const m = /^(?:([A-Z|]+)\s+)?(\/\S*)$/.exec(key.trim())
      if (!m) throw new SdError('SD_ERR_CONFIG_INVALID', `routes['${key}'] must look like 'GET /path' or '/path/:param'`)
      const methods = m[1] ? m[1].split('|') : null
      const path = m[2]
      if (!path.includes(':') && !path.includes('*')) {
        if (methods) {
          for (const verb of methods) this.#methodExact.set(`${verb} ${path}`, route)
          if (!this.#verbless.has(path)) this.#verbless.set(path, route)
        } else {
          this.#exact.set(path, { match: { route, params: noParams }, anyVerb: true })
        }
        continue
      }
      const keys: string[] = []
      const source = path.split('/').map((part) => {
        if (part.startsWith(':')) { keys.push(part.slice(1)); return '([^/]+)' }
        if (part === '*') { keys.push('*'); return '(.*)' }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      }).join('/')
      this.#patterns.push({ methods: methods ? new Set(methods) : null, regex: new RegExp(`^${source}$`), keys, route })
    }
  }

  /**
   * Finds the action for a path. `verb` is the HTTP method when there is one; transports
   * without methods (tcp, text, ws) match method-bound rules by path alone.
   */
  match (path: string, verb?: string): RouteMatch | undefined {
    const exact = this.#exact.get(path)
    if (exact !== undefined && (exact.anyVerb || verb === undefined || verb === 'GET' || verb === 'POST' || verb === 'HEAD')) return exact.match
    if (this.#methodExact.size > 0) {
      const route = verb ? this.#methodExact.get(`${verb} ${path}`) : this.#verbless.get(path)
      if (route) return { route, params: noParams }
    }
    for (const rule of this.#patterns) {
      if (rule.methods && verb && !rule.methods.has(verb)) continue
      const m = rule.regex.exec(path)
      if (!m) continue
      const params: Record<string, string> = {}
      rule.keys.forEach((k, i) => { params[k] = decodeParam(m[i + 1]) })
      return { route: rule.route, params }
    }
    return undefined
  }
}
