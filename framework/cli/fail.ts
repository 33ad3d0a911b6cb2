/**
 * How one-shot commands end on an error: an SD error prints its code and message (no stack)
 * and exits 1; anything else is left to oclif.
 */
import type { Command } from '@oclif/core'
import { SdError } from '../core/errors.js'

/** Ends `cmd` with a clear message for `err`. */
export function failWith (cmd: Command, err: unknown): never {
  if (err instanceof SdError) cmd.error(`${err.code}: ${err.message}`, { exit: 1 })
  const e = err as Error
  cmd.error(e?.message ?? String(err), { exit: 1 })
}
