/**
 * The link handshake: a shared secret (`SD_CLUSTER_SECRET`) proves both ends belong to the
 * cluster before anything else is accepted.
 *
 *     accepting side                                connecting side
 *     HELLO  {version, role, nonceA, name}   ──▶
 *                                            ◀──   HELLO {version, role, nonceC, proofC, name}
 *     WELCOME {proofA}                       ──▶   (or DENY {reason}, then close)
 *
 *     proofC = HMAC-SHA256(secret, nonceA ‖ 0x00 ‖ connecting name ‖ 0x00 ‖ connecting role)
 *     proofA = HMAC-SHA256(secret, nonceC ‖ 0x00 ‖ accepting name  ‖ 0x00 ‖ accepting role)
 *
 * Rotation: a node may hold two secrets (`new,old`). It proves with each it holds (an answer
 * HELLO then carries a second proof after the name) and accepts a proof made with either; the
 * accepting side's WELCOME uses the secret that matched. So a node with `new,old` links with
 * nodes holding `old`, `new` or `new,old`: deploy `new,old` everywhere, then `new`.
 *
 * Proofs are compared with `crypto.timingSafeEqual`. Before success only the expected
 * handshake frame is accepted, with a small frame limit: any other frame, a malformed one or
 * silence past the timeout closes that socket (no DENY: the peer may not even speak the
 * protocol). A well-formed answer with a wrong proof gets DENY, then the link is closed. The
 * handshake authenticates; it does not encrypt (run links on a private network or a tunnel).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { SdError } from '../core/errors.js'
import { FrameType, frameTypeName, HANDSHAKE_MAX_FRAME_BYTES, type ClusterRole, type FrameTypeValue, type LinkRole } from './link-frames.js'
import type { Link, PeerInfo } from './link.js'

// defined with the wire format (link.ts needs them too, and must not import this file)
export { HANDSHAKE_MAX_FRAME_BYTES, type ClusterRole, type LinkRole }

/** Version of the link protocol; a peer speaking another one is refused. */
export const LINK_PROTOCOL_VERSION = 1
/** Bytes of each side's random nonce. */
export const NONCE_BYTES = 32
/** Bytes of a proof (HMAC-SHA256). */
export const PROOF_BYTES = 32
/** Shortest secret accepted. */
export const MIN_SECRET_BYTES = 16

const roleCodes: Record<LinkRole, number> = { server: 1, dispatch: 2, gateway: 3, worker: 4 }
const roleByCode: ReadonlyArray<LinkRole | undefined> = [undefined, 'server', 'dispatch', 'gateway', 'worker']
const roleOf = (code: number): LinkRole | undefined => roleByCode[code]

/** Why a handshake failed. */
export type HandshakeFailure = 'denied' | 'timeout' | 'protocol' | 'closed' | 'bad-peer-proof'

/** A failed handshake; `reason` says which way, `message` the detail (a DENY's text for `denied`). */
export class LinkHandshakeError extends Error {
  readonly reason: HandshakeFailure
  constructor (reason: HandshakeFailure, message: string) {
    super(message)
    this.name = 'LinkHandshakeError'
    this.reason = reason
  }
}

/** The secrets of a link end: one, or two during a rotation (`[new, old]`: proves with both, accepts either). */
export type LinkSecret = Buffer | readonly Buffer[]

/** Most secrets a node holds at once (`new,old`). */
export const MAX_SECRETS = 2

/**
 * The cluster secrets as bytes: `value` (default env `SD_CLUSTER_SECRET`), one secret or two
 * separated by a comma during a rotation (`new,old`). Throws `SD_ERR_CONFIG_INVALID` when it is
 * missing, holds more than two, or one is shorter than 16 bytes.
 */
export function clusterSecret (value: string | Buffer | undefined = process.env.SD_CLUSTER_SECRET): readonly Buffer[] {
  const parts = typeof value === 'string' ? value.split(',').map((p) => Buffer.from(p, 'utf8')) : value === undefined ? [] : [value]
  if (parts.length === 0 || parts.length > MAX_SECRETS || parts.some((p) => p.length < MIN_SECRET_BYTES)) {
    throw new SdError('SD_ERR_CONFIG_INVALID', `SD_CLUSTER_SECRET must be set to at least ${MIN_SECRET_BYTES} bytes (the same on every node of the cluster), or to two such secrets separated by a comma while rotating (new,old)`)
  }
  return parts
}

/** The secrets of `secret` as a list (first: the newest). */
function secretList (secret: LinkSecret): readonly Buffer[] {
  return Buffer.isBuffer(secret) ? [secret] : secret as readonly Buffer[]
}

/** True for a name a node may use: 1–255 UTF-8 bytes, no whitespace or control characters. */
export function isValidNodeName (name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) <= 255 && !/[\s\x00-\x1f\x7f]/.test(name)
}

/** HMAC-SHA256(secret, nonce ‖ 0x00 ‖ name ‖ 0x00 ‖ role). */
export function linkProof (secret: Buffer, nonce: Buffer, name: string, role: LinkRole): Buffer {
  return createHmac('sha256', secret).update(nonce).update('\0').update(name, 'utf8').update('\0').update(role).digest()
}

function proofMatches (expected: Buffer, got: Buffer): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got)
}

/** The first of `secrets` with which one of `proofs` was made, else undefined. */
function matchingSecret (secrets: readonly Buffer[], proofs: readonly Buffer[], make: (secret: Buffer) => Buffer): Buffer | undefined {
  for (const secret of secrets) {
    const expected = make(secret)
    for (const proof of proofs) if (proofMatches(expected, proof)) return secret
  }
  return undefined
}

// ---- handshake frames ------------------------------------------------------------------

/** The accepting side's HELLO (challenge) or the connecting side's HELLO (answer, with `proof`). */
export interface Hello {
  version: number
  role: LinkRole
  nonce: Buffer
  name: string
  proof?: Buffer
  /** An answer's proof made with the connecting side's second secret (rotation), after the name. */
  altProof?: Buffer
}

/** HELLO payload: uint8 version, uint8 role, nonce[32], [proof[32] in an answer], uint8 name length, name, [second proof[32] in an answer, while rotating]. */
export function encodeHello (h: Hello): Buffer {
  const name = Buffer.from(h.name, 'utf8')
  const proof = h.proof ?? Buffer.alloc(0)
  return Buffer.concat([Buffer.from([h.version, roleCodes[h.role]]), h.nonce, proof, Buffer.from([name.length]), name, h.altProof ?? Buffer.alloc(0)])
}

/** Decodes a HELLO (`answer`: with a proof); undefined when malformed. */
export function decodeHello (body: Buffer, answer: boolean): Hello | undefined {
  const fixed = 2 + NONCE_BYTES + (answer ? PROOF_BYTES : 0)
  if (body.length < fixed + 2) return undefined
  const role = roleOf(body[1])
  if (!role) return undefined
  const nameLen = body[fixed]
  const nameEnd = fixed + 1 + nameLen
  const alt = answer && body.length === nameEnd + PROOF_BYTES
  if (body.length !== nameEnd && !alt) return undefined
  const name = body.toString('utf8', fixed + 1, nameEnd)
  if (!isValidNodeName(name)) return undefined
  const hello: Hello = {
    version: body[0],
    role,
    nonce: Buffer.from(body.subarray(2, 2 + NONCE_BYTES)),
    proof: answer ? Buffer.from(body.subarray(2 + NONCE_BYTES, fixed)) : undefined,
    name,
  }
  if (alt) hello.altProof = Buffer.from(body.subarray(nameEnd))
  return hello
}

// ---- the two sides ---------------------------------------------------------------------

/** This end of a handshake. */
export interface HandshakeOptions {
  /** The cluster secret, or `[new, old]` while rotating (see `clusterSecret()`). */
  secret: LinkSecret
  /** This node's name. */
  name: string
  /** This node's role. */
  role: LinkRole
  /** Time allowed for the whole handshake. @default 2000 */
  timeoutMs?: number
}

/** Options of the accepting side. */
export interface AcceptOptions extends HandshakeOptions {
  /** Roles allowed to connect. @default ['server'] */
  allowRoles?: readonly LinkRole[]
}

/**
 * Runs the handshake on a link the accepting side just got: sends the challenge, checks the
 * answer. Resolves to the authenticated peer (the link is then `ready`); rejects with a
 * `LinkHandshakeError` after closing the link.
 */
export function acceptHandshake (link: Link, options: AcceptOptions): Promise<PeerInfo> {
  const { name, role } = options
  const secrets = secretList(options.secret)
  const allow = options.allowRoles ?? ['server']
  const nonce = randomBytes(NONCE_BYTES)
  return handshake(link, options.timeoutMs ?? 2000, (type, body, done) => {
    if (type !== FrameType.HELLO) return done.destroy('protocol', `${frameTypeName[type]} frame before authentication`)
    const answer = decodeHello(body, true)
    if (!answer) return done.destroy('protocol', 'malformed HELLO')
    if (answer.version !== LINK_PROTOCOL_VERSION) return done.deny(`link protocol ${answer.version} is not supported (this node speaks ${LINK_PROTOCOL_VERSION})`)
    // the proof is checked before anything about the peer is revealed in a DENY
    const proofs = answer.altProof === undefined ? [answer.proof ?? Buffer.alloc(0)] : [answer.proof ?? Buffer.alloc(0), answer.altProof]
    const secret = matchingSecret(secrets, proofs, (s) => linkProof(s, nonce, answer.name, answer.role))
    if (secret === undefined) return done.deny('authentication failed')
    if (!allow.includes(answer.role)) return done.deny(`role ${answer.role} is not accepted here`)
    // proven with the secret both hold, so a peer that has only that one can check it
    link.sendFrame(FrameType.WELCOME, linkProof(secret, answer.nonce, name, role))
    done.ok({ name: answer.name, role: answer.role })
  }, () => link.sendFrame(FrameType.HELLO, encodeHello({ version: LINK_PROTOCOL_VERSION, role, nonce, name })))
}

/** Options of the connecting side. */
export interface ConnectOptions extends HandshakeOptions {
  /** Role the accepting side must have. @default 'dispatch' */
  expectRole?: LinkRole
}

/**
 * Runs the handshake on a link this side just opened: answers the challenge, then checks the
 * accepting side's proof (mutual authentication). Resolves to the peer; rejects with a
 * `LinkHandshakeError` (`denied` carries the peer's reason) after closing the link.
 */
export function connectHandshake (link: Link, options: ConnectOptions): Promise<PeerInfo> {
  const { name, role } = options
  const secrets = secretList(options.secret)
  const expectRole = options.expectRole ?? 'dispatch'
  const nonce = randomBytes(NONCE_BYTES)
  let challenge: Hello | undefined
  return handshake(link, options.timeoutMs ?? 2000, (type, body, done) => {
    if (challenge === undefined) {
      if (type !== FrameType.HELLO) return done.destroy('protocol', `expected HELLO, got ${frameTypeName[type]}`)
      challenge = decodeHello(body, false)
      if (!challenge) return done.destroy('protocol', 'malformed HELLO')
      if (challenge.version !== LINK_PROTOCOL_VERSION) return done.destroy('protocol', `peer speaks link protocol ${challenge.version}, this node ${LINK_PROTOCOL_VERSION}`)
      if (challenge.role !== expectRole) return done.destroy('protocol', `peer is a ${challenge.role}, expected a ${expectRole}`)
      const [proof, altProof] = secrets.map((s) => linkProof(s, (challenge as Hello).nonce, name, role))
      link.sendFrame(FrameType.HELLO, encodeHello({ version: LINK_PROTOCOL_VERSION, role, nonce, name, proof, altProof }))
      return
    }
    if (type === FrameType.DENY) return done.destroy('denied', body.toString('utf8'))
    if (type !== FrameType.WELCOME) return done.destroy('protocol', `expected WELCOME, got ${frameTypeName[type]}`)
    const peer = challenge
    if (matchingSecret(secrets, [body], (s) => linkProof(s, nonce, peer.name, peer.role)) === undefined) return done.destroy('bad-peer-proof', `peer ${challenge.name} could not prove it knows the cluster secret`)
    done.ok({ name: challenge.name, role: challenge.role })
  })
}

interface Done {
  ok (peer: PeerInfo): void
  /** Sends DENY and closes (well-formed but refused). */
  deny (reason: string): void
  /** Closes at once (garbage, or the peer refused us). */
  destroy (why: HandshakeFailure, message: string): void
}

type Step = (type: FrameTypeValue, body: Buffer, done: Done) => void

/** The handshake skeleton shared by both sides: timeout, one outcome, cleanup. */
function handshake (link: Link, timeoutMs: number, step: Step, begin?: () => void): Promise<PeerInfo> {
  return new Promise<PeerInfo>((resolve, reject) => {
    let settled = false
    const settle = (err: LinkHandshakeError | undefined, peer?: PeerInfo): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      link.off('close', onClose)
      if (err) reject(err)
      else resolve(peer as PeerInfo)
    }
    const done: Done = {
      ok: (peer) => { link.authenticated(peer); settle(undefined, peer) },
      deny: (reason) => { settle(new LinkHandshakeError('denied', reason)); link.deny(reason) },
      destroy: (why, message) => { settle(new LinkHandshakeError(why, message)); link.destroy(message) },
    }
    const onClose = (reason: string): void => settle(new LinkHandshakeError('closed', `link closed during the handshake: ${reason}`))
    const timer = setTimeout(() => done.destroy('timeout', `no handshake within ${timeoutMs} ms`), timeoutMs)
    timer.unref()
    link.once('close', onClose)
    link.expectHandshake((type, body) => { if (!settled) step(type, body, done) })
    begin?.()
  })
}
