/**
 * Fastify plugins of the admin listener: each gets the listener's fastify instance and its
 * sources and adds routes (the dashboard is one). `adminPlugins` is the list both admin
 * listeners (an in-process application's `Ops` and the primary of `sd start`) register.
 */
import type { FastifyInstance } from 'fastify'
import { dashboardPlugin } from './dashboard.js'
import type { AdminConfig } from './guard.js'
import type { AdminSources } from './sources.js'

/**
 * Adds routes to the admin listener; registered before it listens, behind the admin decision
 * (a route with `config: { open: true }` skips it: only for what carries no data).
 */
export type AdminPlugin = (app: FastifyInstance, sources: AdminSources, config: Pick<AdminConfig, 'token'>) => void | Promise<void>

/** The plugins every admin listener registers. */
export const adminPlugins: readonly AdminPlugin[] = [
  (app, sources, config) => { dashboardPlugin(app, sources, { admin: config }) },
]
