/**
 * `X_FILE` variants of the secret variables: `SD_CLUSTER_SECRET_FILE=/run/secrets/cluster` reads
 * the secret from a file (a compose secret, a systemd credential) so it never sits in the
 * environment that `docker inspect`, `/proc/<pid>/environ` or a crash report shows.
 */
import { readFileSync, statSync } from 'node:fs'
import { SdError } from '../core/errors.js'

/** The variables that have an `X_FILE` variant (the URLs may carry a password). */
export const fileEnvNames = ['SD_CLUSTER_SECRET', 'SD_ADMIN_TOKEN', 'SD_AUTH_JWT_SECRET', 'MYSQL_URL', 'REDIS_URL'] as const

/** Largest secret file read (a secret or a URL is far smaller; a huge file would sit in every worker's environment). */
export const MAX_ENV_FILE_BYTES = 64 * 1024

/** A file's text without one trailing newline (`echo secret > file` writes one). */
function withoutNewline (text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2)
  if (text.endsWith('\n')) return text.slice(0, -1)
  return text
}

/**
 * `env` with each `X_FILE` read into `X`. Setting both `X` and `X_FILE` is an error, as is a
 * file that cannot be read, is not a regular file of at most `MAX_ENV_FILE_BYTES`, or is empty; each throws `SD_ERR_CONFIG_INVALID` naming the variable (never the
 * value). An empty `X_FILE` counts as unset.
 */
export function readEnvFiles (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let out: NodeJS.ProcessEnv | undefined
  for (const name of fileEnvNames) {
    const path = env[`${name}_FILE`]
    if (path === undefined || path === '') continue
    if (env[name] !== undefined && env[name] !== '') {
      throw new SdError('SD_ERR_CONFIG_INVALID', `${name} and ${name}_FILE are both set: set one of them`)
    }
    let text: string
    try {
      // a regular file of bounded size only: a FIFO would block the boot forever, /dev/zero never ends
      const stat = statSync(path)
      if (!stat.isFile()) throw new SdError('SD_ERR_CONFIG_INVALID', `${name}_FILE: ${path} is not a regular file`)
      if (stat.size > MAX_ENV_FILE_BYTES) throw new SdError('SD_ERR_CONFIG_INVALID', `${name}_FILE: ${path} is larger than ${MAX_ENV_FILE_BYTES} bytes`)
      text = readFileSync(path, 'utf8')
    } catch (err) {
      if (err instanceof SdError) throw err
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
      throw new SdError('SD_ERR_CONFIG_INVALID', `${name}_FILE: cannot read ${path} (${code})`, { cause: err })
    }
    const value = withoutNewline(text)
    if (value === '') throw new SdError('SD_ERR_CONFIG_INVALID', `${name}_FILE: ${path} is empty`)
    out ??= { ...env }
    out[name] = value
  }
  return out ?? env
}
