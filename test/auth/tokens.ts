/** Test tokens signed with jose: HS256 with a secret, RS256 (PEM file) and ES256 (JWKS file) key pairs in a temp dir. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose'

/** The HS256 secret of these tests. */
export const secret = 'auth-test-secret-0123456789abcdef'

/** Options of a token: claims, and its times relative to now (seconds). */
export interface TokenOptions {
  sub?: string | null
  ttlS?: number
  nbfS?: number
  iss?: string
  aud?: string
  extra?: JWTPayload
}

async function sign (opts: TokenOptions, alg: string, key: Parameters<SignJWT['sign']>[0], kid?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ ...opts.extra }).setProtectedHeader(kid === undefined ? { alg } : { alg, kid }).setIssuedAt(now)
  if (opts.sub !== null) jwt.setSubject(opts.sub ?? 'alice')
  if (opts.ttlS !== undefined) jwt.setExpirationTime(now + opts.ttlS)
  if (opts.nbfS !== undefined) jwt.setNotBefore(now + opts.nbfS)
  if (opts.iss !== undefined) jwt.setIssuer(opts.iss)
  if (opts.aud !== undefined) jwt.setAudience(opts.aud)
  return jwt.sign(key)
}

/** An HS256 token signed with `key` (default: `secret`). */
export function hs256 (opts: TokenOptions = {}, key = secret): Promise<string> {
  return sign(opts, 'HS256', new TextEncoder().encode(key))
}

/** A token with `alg: none` made by hand (jose refuses to make one): header.payload. with no signature. */
export function algNone (sub = 'alice'): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`
}

/** Key files in a temp dir: an RSA PEM public key and an EC JWKS, with signers for each. */
export async function keyFiles (): Promise<{ dir: string, pem: string, jwks: string, rs256: (o?: TokenOptions) => Promise<string>, es256: (o?: TokenOptions) => Promise<string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sd-auth-'))
  const rsa = await generateKeyPair('RS256')
  const ec = await generateKeyPair('ES256')
  const pem = join(dir, 'rsa.pem')
  writeFileSync(pem, await exportSPKI(rsa.publicKey))
  const jwks = join(dir, 'keys.json')
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...await exportJWK(ec.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }] }))
  return {
    dir, pem, jwks,
    rs256: (o = {}) => sign(o, 'RS256', rsa.privateKey),
    es256: (o = {}) => sign(o, 'ES256', ec.privateKey, 'k1'),
  }
}
