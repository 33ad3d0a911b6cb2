/**
 * Lifecycle hooks and middleware types. Hooks named `onX` observe events; middleware runs
 * around every action (koa-style: code before `await next()` runs before the action, code
 * after it sees the result) and can stop the flow by throwing or by not calling `next`.
 */
import type { Controller } from './controller.js'
import type { Application } from '../server/application.js'

/** Application-level hooks. */
export interface Hooks {
  /** After every port listens. */
  onStart: (app: Application) => void | Promise<void>
  /** After every port is closed, during shutdown. */
  onStop: (app: Application) => void | Promise<void>
  /** A socket or WebSocket connection opened; `ctx` has the controller API for it. */
  onConnect: (ctx: Controller) => void | Promise<void>
  /** A connection closed; its uid and groups are already released, its session is still readable. */
  onClose: (ctx: Controller) => void | Promise<void>
  /**
   * Cluster: a server died (no normal close ran for its connections) and its entries were purged.
   * `uids`: its users now offline everywhere. Runs on one server of the cluster, so a
   * cluster-wide send from it (`app.bus.sendToAll`) reaches every user once.
   */
  onNodeGone: (app: Application, gone: { node: string, uids: string[] }) => void | Promise<void>
}

/** Name of a hook. */
export type HookName = keyof Hooks

/** Middleware around an action: returns (or changes) the action's result. */
export type Middleware = (ctx: Controller, next: () => Promise<unknown>) => unknown

/** Runs `action` inside the middleware chain. */
export function runMiddleware (chain: readonly Middleware[], ctx: Controller, action: () => unknown): Promise<unknown> {
  const step = (i: number): Promise<unknown> => {
    if (i === chain.length) return Promise.resolve(action())
    let called = false
    return Promise.resolve(chain[i](ctx, () => {
      if (called) return Promise.reject(new Error('next() called twice'))
      called = true
      return step(i + 1)
    }))
  }
  return step(0)
}
