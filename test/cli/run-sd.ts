/** Runs the real `sd` executable in a child process. */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/sd.js', import.meta.url))

/** What one `sd` run printed and how it exited. */
export interface SdRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs `sd ...args` in `cwd` with `env` added to (or, for `undefined` values, removed from) the
 * environment; killed after `timeoutMs`.
 */
export function runSd (args: string[], cwd: string, env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<SdRun> {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, OCLIF_COLUMNS: '500', ...env }
  delete fullEnv.NODE_TEST_CONTEXT
  delete fullEnv.NODE_OPTIONS
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k]
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: fullEnv, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}
