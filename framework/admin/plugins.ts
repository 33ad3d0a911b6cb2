/**
 * Fastify plugins of the admin listener: each gets the listener's fastify instance and its
 * sources and adds routes (the dashboard is one). `adminPlugins` is the list both admin
 * listeners (an in-process application's `Ops` and the primary of `sd start`) register.
 */
import type { FastifyInstance } from 'fastify'
import type { AdminSources } from './sources.js'

/** Adds routes to the admin listener; registered before it listens, behind the admin decision. */
export type AdminPlugin = (app: FastifyInstance, sources: AdminSources) => void | Promise<void>

/** The plugins every admin listener registers (the dashboard branch adds its plugin here). */
export const adminPlugins: AdminPlugin[] = []
