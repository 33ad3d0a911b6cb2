/**
 * `/sd/client.js`: the browser SDK (framework/client/browser.ts) as one ESM file, bundled with
 * esbuild on the first request and kept in memory.
 */
import type { FastifyReply } from 'fastify'

/** Path the HTTP port serves the browser SDK on. */
export const CLIENT_JS_PATH = '/sd/client.js'

let bundle: Promise<string> | undefined

/** The bundled browser SDK (built once; a failed build is retried on the next request). */
export function clientBundle (): Promise<string> {
  bundle ??= build().catch((err: unknown) => { bundle = undefined; throw err })
  return bundle
}

async function build (): Promise<string> {
  const { build } = await import('esbuild')
  const entry = new URL('../client/browser.ts', import.meta.url).pathname
  const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', write: false, platform: 'browser', target: 'es2020', logLevel: 'silent' })
  return out.outputFiles[0].text
}

/** True when the request is for the bundle (GET or HEAD, query ignored). */
export function isClientJs (method: string, url: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (url === CLIENT_JS_PATH || url.startsWith(CLIENT_JS_PATH + '?'))
}

/** Answers with the bundle. */
export async function sendClientJs (reply: FastifyReply): Promise<void> {
  const text = await clientBundle()
  await reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(text)
}
