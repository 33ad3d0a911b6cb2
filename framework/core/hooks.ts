/**
 * Lifecycle hooks and middleware types. Hooks named `onX` observe events; middleware runs
 * around every action (koa-style: code before `await next()` runs before the action, code
 * after it sees the result) and can stop the flow by throwing or by not calling `next`.
 */
import type { AppContract } from './contract.js'
import type { BaseController } from './controller.js'

/**
 * Application-level hooks. `C` is the controller hooks get (server's `Controller` for apps),
 * `A` the application (server's `Application`); core knows both only by their contracts.
 */
export interface Hooks<C extends BaseController = BaseController, A extends AppContract = AppContract> {
  /** After every port listens. */
  onStart: (app: A) => void | Promise<void>
  /** After every port is closed, during shutdown. */
  onStop: (app: A) => void | Promise<void>
  /** A socket or WebSocket connection opened; `ctx` has the controller API for it. */
  onConnect: (ctx: C) => void | Promise<void>
  /** A connection closed; its uid and groups are already released, its session is still readable. */
  onClose: (ctx: C) => void | Promise<void>
  /**
   * Cluster: a server died (no normal close ran for its connections) and its entries were purged.
   * `uids`: its users now offline everywhere. Runs on one server of the cluster, so a
   * cluster-wide send from it (`app.bus.sendToAll`) reaches every user once.
   */
  onNodeGone: (app: A, gone: { node: string, uids: string[] }) => void | Promise<void>
}

/** Name of a hook. */
export type HookName = keyof Hooks

/** Middleware around an action: returns (or changes) the action's result. */
export type Middleware<C extends BaseController = BaseController> = (ctx: C, next: () => Promise<unknown>) => unknown

/** Runs `action` inside the middleware chain. */
export function runMiddleware<C extends BaseController> (chain: readonly Middleware<C>[], ctx: C, action: () => unknown): Promise<unknown> {
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
