import { decodeBase64Url } from './base64url.ts'
import { TokenInvalidError } from './errors.ts'

/** Asymmetric JWS algorithms the verifier can pin. HS256 is deliberately absent: see README. */
export const VERIFY_ALGORITHMS = ['EdDSA', 'ES256'] as const
export type VerifyAlgorithm = (typeof VERIFY_ALGORITHMS)[number]

export function isVerifyAlgorithm(value: unknown): value is VerifyAlgorithm {
  return value === 'EdDSA' || value === 'ES256'
}

interface AlgorithmSpec {
  kty: string
  crv: string
  importParams: EcKeyImportParams | Algorithm
  verifyParams: EcdsaParams | Algorithm
  coordinates: readonly string[]
}

const SPECS: Record<VerifyAlgorithm, AlgorithmSpec> = {
  EdDSA: {
    kty: 'OKP',
    crv: 'Ed25519',
    importParams: { name: 'Ed25519' },
    verifyParams: { name: 'Ed25519' },
    coordinates: ['x'],
  },
  ES256: {
    kty: 'EC',
    crv: 'P-256',
    importParams: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyParams: { name: 'ECDSA', hash: 'SHA-256' },
    coordinates: ['x', 'y'],
  },
}

/** Both algorithms sign with 64 bytes (Ed25519, and ES256's r‖s as JWS and WebCrypto use it). */
export const SIGNATURE_LENGTH = 64

/** WebCrypto parameters for `crypto.subtle.verify`, shared so the cold path allocates none. */
export function verifyParams(alg: VerifyAlgorithm): EcdsaParams | Algorithm {
  return SPECS[alg].verifyParams
}

/** A public JWK as published in a JWKS (only the members the verifier reads). */
export interface PublicJwk {
  kty: string
  kid?: string
  alg?: string
  use?: string
  key_ops?: string[]
  crv?: string
  x?: string
  y?: string
  [member: string]: unknown
}

/** A public key ready for `crypto.subtle.verify`, bound to one `kid` and one algorithm. */
export interface VerificationKey {
  kid: string
  alg: VerifyAlgorithm
  key: CryptoKey
  /** Identity of the key material, to keep an imported key across JWKS refreshes. */
  thumbprint: string
}

/**
 * Where the verifier gets keys from: a cached remote JWKS or a fixed list. `getKey` throws
 * `TokenInvalidError('KEY_NOT_FOUND')` when no key fits, `JwksUnavailableError` when it cannot tell.
 */
export interface KeySource {
  getKey(kid: string, alg: VerifyAlgorithm): Promise<VerificationKey>
}

interface ParsedJwk {
  kid: string
  alg: VerifyAlgorithm
  material: JsonWebKey
  thumbprint: string
}

/**
 * Checks one JWK, or `undefined` when it is not a signing key for one of the pinned algorithms
 * (a JWKS may carry keys for other uses; those are skipped, not fatal). Only public members are
 * kept, so a JWKS that wrongly carries `d` still yields a public key.
 */
function parseJwk(jwk: unknown, algorithms: readonly VerifyAlgorithm[]): ParsedJwk | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined
  const candidate = jwk as PublicJwk
  if (typeof candidate.kid !== 'string' || candidate.kid.length === 0) return undefined
  if (candidate.use !== undefined && candidate.use !== 'sig') return undefined
  if (
    candidate.key_ops !== undefined &&
    !(Array.isArray(candidate.key_ops) && candidate.key_ops.includes('verify'))
  ) {
    return undefined
  }
  const alg = candidate.alg === undefined ? inferAlgorithm(candidate) : candidate.alg
  if (!isVerifyAlgorithm(alg) || !algorithms.includes(alg)) return undefined
  const spec = SPECS[alg]
  if (candidate.kty !== spec.kty || candidate.crv !== spec.crv) return undefined
  const material: Record<string, string> = { kty: spec.kty, crv: spec.crv }
  let thumbprint: string = alg
  for (const name of spec.coordinates) {
    const value = candidate[name]
    if (typeof value !== 'string' || decodeBase64Url(value)?.length !== 32) return undefined
    material[name] = value
    thumbprint += `:${value}`
  }
  return { kid: candidate.kid, alg, material, thumbprint }
}

function inferAlgorithm(jwk: PublicJwk): VerifyAlgorithm | undefined {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA'
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256'
  return undefined
}

/** Imports one public JWK for verification; `undefined` when it does not fit the pinned algorithms. */
export async function importJwk(
  jwk: unknown,
  algorithms: readonly VerifyAlgorithm[],
): Promise<VerificationKey | undefined> {
  const parsed = parseJwk(jwk, algorithms)
  return parsed === undefined ? undefined : importParsed(parsed)
}

async function importParsed(parsed: ParsedJwk): Promise<VerificationKey | undefined> {
  try {
    const key = await crypto.subtle.importKey(
      'jwk',
      parsed.material,
      SPECS[parsed.alg].importParams,
      false,
      ['verify'],
    )
    return { kid: parsed.kid, alg: parsed.alg, key, thumbprint: parsed.thumbprint }
  } catch {
    return undefined
  }
}

/** Reads the key list of a JWKS document; `undefined` when it is not one. */
export function jwksKeys(document: unknown): unknown[] | undefined {
  if (typeof document !== 'object' || document === null) return undefined
  const keys = (document as { keys?: unknown }).keys
  return Array.isArray(keys) ? keys : undefined
}

/**
 * Imports every usable key of a key list, once: a key already imported under the same `kid` with
 * the same material is reused. The first key wins when a `kid` repeats.
 */
export async function importKeySet(
  keys: readonly unknown[],
  algorithms: readonly VerifyAlgorithm[],
  previous?: ReadonlyMap<string, VerificationKey>,
): Promise<Map<string, VerificationKey>> {
  const imported = await Promise.all(
    keys.map((jwk) => {
      const parsed = parseJwk(jwk, algorithms)
      if (parsed === undefined) return undefined
      const known = previous?.get(parsed.kid)
      return known?.thumbprint === parsed.thumbprint ? known : importParsed(parsed)
    }),
  )
  const byKid = new Map<string, VerificationKey>()
  for (const key of imported) {
    if (key !== undefined && !byKid.has(key.kid)) byKid.set(key.kid, key)
  }
  return byKid
}

/** Picks the key for a token header, binding the header's `alg` to the key's. */
export function selectKey(
  keys: ReadonlyMap<string, VerificationKey>,
  kid: string,
  alg: VerifyAlgorithm,
): VerificationKey | undefined {
  const key = keys.get(kid)
  return key !== undefined && key.alg === alg ? key : undefined
}

export function keyNotFound(): TokenInvalidError {
  return new TokenInvalidError('KEY_NOT_FOUND', 'No key of the issuer matches the token kid')
}

/**
 * A fixed key list, for tests, single-service setups or keys shipped with the deployment.
 *
 * @example
 * const source = createStaticKeySource({ keys: [publicJwk] }, ['EdDSA'])
 */
export function createStaticKeySource(
  jwks: { keys: readonly unknown[] } | readonly unknown[],
  algorithms: readonly VerifyAlgorithm[],
): KeySource {
  const list = Array.isArray(jwks) ? jwks : (jwks as { keys: readonly unknown[] }).keys
  let ready: Promise<Map<string, VerificationKey>> | undefined
  return {
    async getKey(kid, alg) {
      ready ??= importKeySet(list, algorithms)
      const key = selectKey(await ready, kid, alg)
      if (key === undefined) throw keyNotFound()
      return key
    },
  }
}
