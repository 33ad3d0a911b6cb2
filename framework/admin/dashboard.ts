/**
 * The live dashboard of the admin listener, as a fastify plugin: `GET /dashboard` (the page),
 * its script and style, uPlot served from node_modules (no CDN), and `GET /dashboard/data`,
 * the sampled series after `?since=<ms>` (the page polls it every interval). The page and its
 * assets carry no data and are served to any caller the listener accepts; the data answers
 * only callers the admin decision (`adminAllows`: loopback without a token, else
 * `Authorization: Bearer`) lets in. The page takes the token from its URL fragment
 * (`/dashboard#token=…`, never sent to the server) and sends it as a Bearer header.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SdError } from '../core/errors.js'
import { Sampler, type SamplerOptions } from '../metrics/series.js'
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-page.js'
import { adminAllows, adminTokenDigest, type AdminConfig } from './guard.js'
import type { AdminSources } from './sources.js'

/** Options of `dashboardPlugin`. */
export interface DashboardOptions {
  /** The admin token (`config.admin`): the data route applies the admin decision with it. */
  admin: Pick<AdminConfig, 'token'>
  /** The series to serve; started when the listener is ready, stopped when it closes. @default a Sampler of `sources` */
  sampler?: Sampler
  /** Options of the default sampler. @default {} (1 s, 10 minutes) */
  samplerOptions?: SamplerOptions
}

/** Only this origin: no inline script or style, no frames, no form posts. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/** Headers of every dashboard answer. */
function secure (reply: FastifyReply, cache: 'no-cache' | 'no-store'): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', cache)
}

/** An error answer in the framework's shape `{ error: { code, message } }`. */
function fail (reply: FastifyReply, err: SdError): FastifyReply {
  return secure(reply, 'no-store').code(err.status).type('application/json; charset=utf-8').send({ error: err.toJSON() })
}

/**
 * An `onRequest` hook that answers 403 (`SD_ERR_FORBIDDEN`) unless the admin decision lets
 * the caller in (its socket's address, never a forwarded one, and its `Authorization`).
 */
export function adminOnRequest (admin: Pick<AdminConfig, 'token'>): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const digest = adminTokenDigest(admin)
  return async (request, reply) => {
    const verdict = adminAllows({ ip: request.raw.socket.remoteAddress ?? '', authorization: request.headers.authorization, host: request.headers.host }, admin, digest)
    // an async hook that answers returns the reply: the route does not run
    return verdict === true ? undefined : fail(reply, verdict)
  }
}

/** The latest `since` accepted: 16 digits is past any date a ms clock reaches. */
const SINCE = /^\d{1,16}$/

/** `?since=<ms since the epoch>` (optional, nothing else); an SdError when it is not that. */
export function parseSince (query: unknown): number | SdError {
  const q = (query ?? {}) as Record<string, unknown>
  for (const key of Object.keys(q)) {
    if (key !== 'since') return new SdError('SD_ERR_VALIDATION', `unknown query parameter ${JSON.stringify(key)} (only since)`)
  }
  if (q.since === undefined) return 0
  if (typeof q.since !== 'string' || !SINCE.test(q.since)) return new SdError('SD_ERR_VALIDATION', 'since must be a time in ms since the epoch (digits only, given once)')
  const since = Number(q.since)
  return Number.isSafeInteger(since) ? since : new SdError('SD_ERR_VALIDATION', 'since is out of range')
}

/** uPlot's browser build and style, read once from the installed package. */
let uplot: { js: string, css: string } | undefined
function uplotAssets (): { js: string, css: string } {
  if (uplot === undefined) {
    const require = createRequire(import.meta.url)
    uplot = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    }
  }
  return uplot
}

/** Adds the dashboard's routes to `app`; returns the sampler behind them. */
export function dashboardPlugin (app: FastifyInstance, sources: AdminSources, options: DashboardOptions): Sampler {
  const sampler = options.sampler ?? new Sampler(sources, options.samplerOptions)
  const guard = adminOnRequest(options.admin)
  // the sampler runs only while the listener does
  app.addHook('onReady', async () => { sampler.start() })
  app.addHook('onClose', async () => { sampler.stop() })

  const asset = (path: string, type: string, body: () => string): void => {
    // open: the admin listener serves the page and its assets (no data) without the token, so a
    // tab opened on /dashboard#token=… can load the script that sends it
    app.get(path, { config: { open: true } }, async (_request, reply) => secure(reply, 'no-cache').type(type).send(body()))
  }
  asset('/dashboard', 'text/html; charset=utf-8', () => DASHBOARD_HTML)
  asset('/dashboard/dashboard.js', 'text/javascript; charset=utf-8', () => DASHBOARD_JS)
  asset('/dashboard/dashboard.css', 'text/css; charset=utf-8', () => DASHBOARD_CSS)
  asset('/dashboard/uplot.min.js', 'text/javascript; charset=utf-8', () => uplotAssets().js)
  asset('/dashboard/uplot.min.css', 'text/css; charset=utf-8', () => uplotAssets().css)

  app.get('/dashboard/data', { onRequest: guard }, async (request, reply) => {
    const since = parseSince(request.query)
    if (since instanceof SdError) return fail(reply, since)
    const body = { ...sampler.data(since), uptimeMs: Math.round(process.uptime() * 1000) }
    return secure(reply, 'no-store').type('application/json; charset=utf-8').send(body)
  })
  return sampler
}
