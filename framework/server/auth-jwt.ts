/**
 * Token verification of client authentication: JWT through jose (HS256 with a secret, RS256 /
 * ES256 … with a PEM public key, or a JWKS file; issuer, audience, expiry, not-before and clock
 * skew checked; `sub` is the uid; `alg: none` never), or the app's `authenticate` hook instead.
 * Key files are read at boot (a bad file fails the boot naming its key).
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose'
import type { AuthConfig, AuthInfo } from '../connection/auth-options.js'
import type { AuthState } from '../connection/auth-sweep.js'
import { isPublicError, SdError } from '../core/errors.js'

/** Longest token accepted (a JWT with a few claims is well under 1 KB). */
export const MAX_TOKEN_LENGTH = 8192
/** Longest uid a token may carry. */
export const MAX_UID_LENGTH = 256

/** Checks a token: resolves to the connection's state, or rejects with an SdError. */
export type Verify = (token: string, info: AuthInfo) => Promise<AuthState>

/** Default algorithms of a public key by its kind. */
function algorithmsOf (key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256']
    case 'rsa-pss': return ['PS256']
    case 'ed25519': return ['EdDSA']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : ['ES256']
    }
    default: return []
  }
}

function readKeyFile (root: string, file: string, key: string): string {
  try {
    return readFileSync(resolve(root, file), 'utf8')
  } catch (err) {
    throw new SdError('SD_ERR_CONFIG_INVALID', `${key}: cannot read ${file} (${(err as Error).message})`)
  }
}

/** The JWT verifier of `config.jwt` (its files read from `root`). */
function jwtVerifier (config: AuthConfig, root: string): Verify {
  const j = config.jwt
  let key: Uint8Array | KeyObject | JWTVerifyGetKey
  let algorithms: string[]
  if (j.secret !== '') {
    key = new TextEncoder().encode(j.secret)
    algorithms = ['HS256']
  } else if (j.publicKey !== '') {
    try {
      key = createPublicKey(readKeyFile(root, j.publicKey, 'auth.jwt.publicKey'))
    } catch (err) {
      throw isPublicError(err) ? err : new SdError('SD_ERR_CONFIG_INVALID', `auth.jwt.publicKey: ${j.publicKey} holds no PEM public key`)
    }
    algorithms = algorithmsOf(key)
  } else {
    let jwks: unknown
    try {
      jwks = JSON.parse(readKeyFile(root, j.jwksFile, 'auth.jwt.jwksFile'))
      key = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])
    } catch (err) {
      throw isPublicError(err) ? err : new SdError('SD_ERR_CONFIG_INVALID', `auth.jwt.jwksFile: ${j.jwksFile} is no JWKS ({"keys": [...]})`)
    }
    algorithms = ['RS256', 'ES256']
  }
  if (j.algorithms.length > 0) algorithms = j.algorithms
  const options: JWTVerifyOptions = { algorithms, clockTolerance: j.clockSkewMs / 1000, requiredClaims: ['sub'] }
  if (j.issuer !== undefined) options.issuer = j.issuer
  if (j.audience !== undefined) options.audience = j.audience
  return async (token) => {
    let payload
    try {
      // jwtVerify takes a key or a key getter; the union is one of the two
      payload = (await jwtVerify(token, key as Uint8Array, options)).payload
    } catch (err) {
      throw refusal(err)
    }
    const sub = payload.sub
    if (typeof sub !== 'string' || sub === '' || sub.length > MAX_UID_LENGTH) throw new SdError('SD_ERR_UNAUTHENTICATED', 'the token\'s sub must be a string of 1-256 characters')
    return payload.exp === undefined ? { uid: sub } : { uid: sub, exp: payload.exp * 1000 + j.clockSkewMs }
  }
}

/** What a client is told about a refused JWT (jose's reason, never a stack). */
function refusal (err: unknown): SdError {
  if (err instanceof joseErrors.JWTExpired) return new SdError('SD_ERR_TOKEN_EXPIRED', 'the token\'s exp has passed')
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new SdError('SD_ERR_UNAUTHENTICATED', err.message)
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new SdError('SD_ERR_UNAUTHENTICATED', 'algorithm not allowed')
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new SdError('SD_ERR_UNAUTHENTICATED', 'bad signature')
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new SdError('SD_ERR_UNAUTHENTICATED', 'no key matches the token')
  return new SdError('SD_ERR_UNAUTHENTICATED', 'invalid token')
}

/** The `authenticate` hook as a verifier: its result checked, what it throws made a refusal. */
function hookVerifier (config: AuthConfig): Verify {
  const hook = config.authenticate as NonNullable<AuthConfig['authenticate']>
  return async (token, info) => {
    let result: unknown
    try {
      result = await hook(token, info)
    } catch (err) {
      throw isPublicError(err) ? err : new SdError('SD_ERR_UNAUTHENTICATED', 'token refused')
    }
    const r = result as { uid?: unknown, expiresAtMs?: unknown } | null | undefined
    const uid = typeof r?.uid === 'number' ? String(r.uid) : r?.uid
    if (typeof uid !== 'string' || uid === '' || uid.length > MAX_UID_LENGTH) throw new Error('auth.authenticate must resolve to {uid: a string of 1-256 characters, expiresAtMs?}')
    const exp = r?.expiresAtMs
    if (exp === undefined) return { uid }
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new Error('auth.authenticate: expiresAtMs must be a number (ms since the epoch)')
    if (exp <= Date.now()) throw new SdError('SD_ERR_TOKEN_EXPIRED', 'expiresAtMs has passed')
    return { uid, exp }
  }
}

/** The verifier of `config` (the hook when set, else JWT); throws SD_ERR_CONFIG_INVALID on a bad key. */
export function makeVerifier (config: AuthConfig, root: string): Verify {
  const verify = config.authenticate !== undefined ? hookVerifier(config) : jwtVerifier(config, root)
  return (token, info) => {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) return Promise.reject(new SdError('SD_ERR_UNAUTHENTICATED', `a token must be a string of 1-${MAX_TOKEN_LENGTH} characters`))
    return verify(token, info)
  }
}
