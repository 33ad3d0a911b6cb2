/**
 * The unix socket a dispatch server listens on: taking its path over from a dead process (a
 * stale socket file stays behind after a crash and would make `listen` fail with EADDRINUSE),
 * but never from a live one, and never removing a file that is not a socket.
 */
import { lstat, unlink } from 'node:fs/promises'
import { connect } from 'node:net'

/** An error of `claimSocketPath`, with a code like node's own bind errors. */
function pathError (code: string, path: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, address: path })
}

/** True when a process accepts connections on the socket at `path`; false when none does. */
function answers (path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path })
    socket.setTimeout(1000, () => { socket.destroy(); resolve(true) }) // a backlog full of a live process
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy()
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false)
      else if (err.code === 'EAGAIN') resolve(true) // its backlog is full: alive
      else reject(err)
    })
  })
}

/**
 * Makes `path` free to listen on: nothing there, or a socket file no process answers on (it is
 * removed). Throws `EADDRINUSE` when a live process listens there, `EEXIST` when the path is
 * not a socket (a file the caller must not delete).
 */
export async function claimSocketPath (path: string): Promise<void> {
  let isSocket: boolean
  try {
    isSocket = (await lstat(path)).isSocket()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (!isSocket) throw pathError('EEXIST', path, `${path} exists and is not a socket`)
  if (await answers(path)) throw pathError('EADDRINUSE', path, `another process listens on ${path}`)
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}
