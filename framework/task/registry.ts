/**
 * Which task classes the app knows, and where a worker finds each one: the module URL and the
 * export name. Filled at boot from `tasks.dir` (as controllers are from `app.controllersDir`),
 * or by `app.tasks.add(Cls, file)`.
 */
import { pathToFileURL } from 'node:url'
import { SdError } from '../core/errors.js'
import { loadClasses } from '../core/modules.js'
import { Task, type TaskClass } from './task.js'

/** A registered task class. */
export interface TaskRef {
  readonly cls: TaskClass
  /** Name in logs and errors (the class name). */
  readonly name: string
  /** URL of the module exporting it. */
  readonly file: string
  /** Its export name in that module. */
  readonly exportName: string
  /** Public methods callable through the proxy (own and inherited, not Task's). */
  readonly methods: ReadonlySet<string>
}


function isTaskClass (value: unknown): value is TaskClass {
  return typeof value === 'function' && (value as TaskClass).prototype instanceof Task
}

/** Method names of a task class, up to (not including) `Task`. */
function methodsOf (cls: TaskClass): Set<string> {
  const names = new Set<string>()
  for (let proto = cls.prototype; proto !== null && proto !== Task.prototype; proto = Object.getPrototypeOf(proto) as object) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name in Task.prototype) continue
      if (typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function') names.add(name)
    }
  }
  return names
}

function toUrl (file: string | URL): string {
  if (file instanceof URL) return file.href
  return file.startsWith('file:') ? file : pathToFileURL(file).href
}

/** The task classes of one application. */
export class TaskRegistry {
  readonly #refs = new Map<TaskClass, TaskRef>()

  /** Number of registered classes. */
  get size (): number {
    return this.#refs.size
  }

  /**
   * Registers `cls`, exported as `exportName` by the module at `file` (a path, a `file:` URL
   * or `import.meta.url` of that module).
   */
  add (cls: TaskClass, file: string | URL, exportName = cls.name): TaskRef {
    if (!isTaskClass(cls)) throw new TypeError(`${String((cls as { name?: unknown })?.name)} does not extend Task`)
    const ref: TaskRef = { cls, name: cls.name || exportName, file: toUrl(file), exportName, methods: methodsOf(cls) }
    this.#refs.set(cls, ref)
    return ref
  }

  /** URLs of the modules holding registered classes. */
  files (): string[] {
    return [...new Set([...this.#refs.values()].map((r) => r.file))]
  }

  /** The registration of `cls`; `SD_ERR_TASK_NOT_FOUND` when it has none. */
  get (cls: TaskClass): TaskRef {
    const ref = this.#refs.get(cls)
    if (ref === undefined) throw new SdError('SD_ERR_TASK_NOT_FOUND', String((cls as { name?: unknown })?.name ?? cls))
    return ref
  }

  /** The registration whose export or class is named `name` (a timer's `task` in `config/timers.ts`). */
  find (name: string): TaskRef | undefined {
    for (const ref of this.#refs.values()) if (ref.exportName === name || ref.name === name) return ref
    return undefined
  }

  /** Registers every class extending Task exported by the modules of `dir` (missing dir: none). */
  async load (dir: string): Promise<void> {
    const found = await loadClasses(dir, isTaskClass, (file) => new SdError('SD_ERR_CONFIG_INVALID', `tasks.dir: ${file} exports no class extending Task`))
    for (const { cls, url, exportName } of found) this.add(cls, url, exportName)
  }
}
