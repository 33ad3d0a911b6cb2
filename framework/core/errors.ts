/**
 * The one registry of SD error codes. Codes are stable: a code is never reused or renamed.
 * `docs/errors.md` lists every code here (checked by `test/core/errors.test.ts`).
 */

/** One registered error: its HTTP status and the message clients see. */
export interface ErrorSpec {
  /** HTTP status used when the error reaches an HTTP client. */
  readonly status: number
  /** Message shown to the client; `%s` is replaced by the detail given at the throw site. */
  readonly message: string
}

/** Every error code SD can send to a client or raise at boot. */
export const errorCodes = {
  SD_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'no route for %s' },
  SD_ERR_BAD_MESSAGE: { status: 400, message: 'bad message: %s' },
  SD_ERR_FRAME_TOO_LARGE: { status: 413, message: 'frame too large: %s' },
  SD_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body too large: %s' },
  SD_ERR_TRANSPORT_NOT_ALLOWED: { status: 405, message: 'action %s is not available on this transport' },
  SD_ERR_NOT_SUPPORTED: { status: 400, message: '%s is not supported on this transport' },
  SD_ERR_INTERNAL: { status: 500, message: 'internal server error' },
  SD_ERR_IDLE_TIMEOUT: { status: 408, message: 'connection idle for more than %s ms' },
  SD_ERR_SEND_BUFFER_FULL: { status: 503, message: 'client is not reading: %s bytes waiting to be sent' },
  SD_ERR_RATE_LIMITED: { status: 429, message: 'too many messages: %s' },
  SD_ERR_SLOW_READER: { status: 503, message: 'slowest reader closed, the server is over its output budget: %s' },
  SD_ERR_SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  SD_ERR_TOO_MANY_CONNECTIONS: { status: 503, message: 'too many connections: %s' },
  SD_ERR_KICKED: { status: 409, message: 'connection closed: %s' },
  SD_ERR_CONFIG_INVALID: { status: 500, message: 'invalid configuration: %s' },
  SD_ERR_PORT_IN_USE: { status: 500, message: 'cannot listen: %s' },
  SD_ERR_CONTROLLER_INVALID: { status: 500, message: 'invalid controller: %s' },
  SD_ERR_DB_UNAVAILABLE: { status: 503, message: 'database unavailable: %s' },
  SD_ERR_DB_TIMEOUT: { status: 504, message: 'database query timed out: %s' },
  SD_ERR_DB_POOL_EXHAUSTED: { status: 503, message: 'database busy: %s' },
  SD_ERR_REDIS_UNAVAILABLE: { status: 503, message: 'redis unavailable: %s' },
  SD_ERR_CLUSTER_UNAVAILABLE: { status: 503, message: 'cluster unavailable: %s' },
  SD_ERR_NO_WORKER: { status: 503, message: 'no business worker ready: %s' },
  SD_ERR_WORKER_LOST: { status: 502, message: 'the business worker running this request went away' },
  SD_ERR_VALIDATION: { status: 400, message: 'invalid data: %s' },
  SD_ERR_NOT_FOUND: { status: 404, message: 'not found: %s' },
  SD_ERR_TASK_TIMEOUT: { status: 504, message: 'task timed out: %s' },
  SD_ERR_TASK_CRASHED: { status: 500, message: 'task worker crashed: %s' },
  SD_ERR_TASK_QUEUE_FULL: { status: 503, message: 'task queue is full: %s' },
  SD_ERR_TASK_NOT_FOUND: { status: 500, message: 'unknown task: %s' },
  SD_ERR_VIEW_RENDER: { status: 500, message: 'view could not be rendered: %s' },
  SD_ERR_CLIENT_TIMEOUT: { status: 504, message: 'no reply in time: %s' },
  SD_ERR_CLIENT_CLOSED: { status: 499, message: 'client is closed: %s' },
  SD_ERR_CLIENT_QUEUE_FULL: { status: 503, message: 'client queue is full: %s' },
  SD_ERR_CLIENT_DISCONNECTED: { status: 503, message: 'connection lost during the call: %s' },
  SD_ERR_UNAUTHENTICATED: { status: 401, message: 'not authenticated: %s' },
  SD_ERR_TOKEN_EXPIRED: { status: 401, message: 'token expired: %s' },
  SD_ERR_AUTH_TIMEOUT: { status: 408, message: 'not authenticated within %s ms' },
  SD_ERR_FORBIDDEN: { status: 403, message: 'forbidden: %s' },
  SD_ERR_METRICS_DISABLED: { status: 404, message: 'metrics are off: %s' },
} as const satisfies Record<string, ErrorSpec>

/** A registered error code. */
export type ErrorCode = keyof typeof errorCodes

/** The JSON shape of an error sent to a client: `{code, message}`. */
export interface ErrorBody {
  code: string
  message: string
}

/** Longest detail (often client input, e.g. a path) echoed in a message. */
const MAX_DETAIL = 200

function clip (detail: string | number | undefined): string {
  if (detail === undefined) return ''
  const text = String(detail)
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text
}

/**
 * An error with a registered code. Throw it from an action to send that code to the caller;
 * anything else thrown becomes `SD_ERR_INTERNAL` with no detail.
 */
export class SdError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor (code: ErrorCode, detail?: string | number, options?: ErrorOptions) {
    const spec: ErrorSpec = errorCodes[code]
    super(spec.message.replace('%s', () => clip(detail)).trim(), options)
    this.name = 'SdError'
    this.code = code
    this.status = spec.status
  }

  /** The body sent to clients: code and message, never a stack. */
  toJSON (): ErrorBody {
    return { code: this.code, message: this.message }
  }
}

/**
 * An error an application defines with its own code (e.g. `CHAT_ERR_NOT_LOGGED_IN`); sent to
 * the client like an `SdError`. Use it for business errors; SD's own codes stay in the registry.
 */
export class AppError extends Error {
  readonly code: string
  readonly status: number

  constructor (code: string, message: string, status = 400) {
    super(message)
    this.name = 'AppError'
    this.code = code
    this.status = status
  }

  toJSON (): ErrorBody {
    return { code: this.code, message: this.message }
  }
}

/** True for errors whose code and message may be shown to a client. */
export function isPublicError (err: unknown): err is SdError | AppError {
  return err instanceof SdError || err instanceof AppError
}
