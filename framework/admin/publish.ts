/**
 * The body of `POST /sd/publish`, checked strictly: `{ to, data, recover? }` with exactly one
 * target in `to` (`uid`, `uids`, `group` or `all: true`). Every failure is `SD_ERR_VALIDATION`
 * naming the field, so a back end in any language can tell what it sent wrong.
 */
import { SdError } from '../core/errors.js'
import type { PublishRequest, PublishTarget } from './sources.js'

/** Longest uid or group name (the stream names `uid:<uid>` / `group:<name>` and auth's `sub` stay near it). */
export const MAX_PUBLISH_NAME = 256
/** Most uids one publish names. */
export const MAX_PUBLISH_UIDS = 10_000

const TARGETS = ['uid', 'uids', 'group', 'all'] as const
const BODY_KEYS = new Set(['to', 'data', 'recover'])

function invalid (detail: string): SdError {
  return new SdError('SD_ERR_VALIDATION', detail)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A uid as the bus keys it: a string of 1-256 characters, or a safe integer (sent as its decimal string). */
function uidOf (v: unknown, field: string): string {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v)
  if (typeof v === 'string' && v.length > 0 && v.length <= MAX_PUBLISH_NAME) return v
  throw invalid(`${field} must be a string of 1-${MAX_PUBLISH_NAME} characters or an integer`)
}

/** Checks what `to` names; throws `SD_ERR_VALIDATION` naming the field. */
function targetOf (to: unknown): PublishTarget {
  if (!isObject(to)) throw invalid('to must be an object with one of uid, uids, group, all')
  const keys = Object.keys(to)
  const unknown = keys.find((k) => !(TARGETS as readonly string[]).includes(k))
  if (unknown !== undefined) throw invalid(`to.${unknown} is not a target: use one of uid, uids, group, all`)
  if (keys.length !== 1) throw invalid(`to must name exactly one of uid, uids, group, all (got ${keys.length === 0 ? 'none' : keys.join(', ')})`)
  switch (keys[0] as typeof TARGETS[number]) {
    case 'uid': return { uid: uidOf(to.uid, 'to.uid') }
    case 'uids': {
      const list = to.uids
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PUBLISH_UIDS) throw invalid(`to.uids must be an array of 1-${MAX_PUBLISH_UIDS} uids`)
      return { uids: list.map((u, i) => uidOf(u, `to.uids[${i}]`)) }
    }
    case 'group': {
      const g = to.group
      if (typeof g !== 'string' || g.length === 0 || g.length > MAX_PUBLISH_NAME) throw invalid(`to.group must be a string of 1-${MAX_PUBLISH_NAME} characters`)
      return { group: g }
    }
    case 'all':
      if (to.all !== true) throw invalid('to.all must be true')
      return { all: true }
  }
}

/** The checked publish request of a parsed JSON body; throws `SD_ERR_VALIDATION` naming the field. */
export function parsePublish (body: unknown): PublishRequest {
  if (!isObject(body)) throw invalid('the body must be a JSON object {to, data, recover?}')
  const extra = Object.keys(body).find((k) => !BODY_KEYS.has(k))
  if (extra !== undefined) throw invalid(`${extra} is not a field of a publish: use to, data, recover`)
  if (!('to' in body)) throw invalid('to is required')
  const to = targetOf(body.to)
  if (!('data' in body) || body.data === undefined) throw invalid('data is required (any JSON value)')
  const request: PublishRequest = { to, data: body.data }
  if ('recover' in body) {
    if (typeof body.recover !== 'boolean') throw invalid('recover must be true or false')
    request.recover = body.recover
  }
  return request
}
