import { createHmac, randomUUID } from 'node:crypto'
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose'

export const ISSUER = 'http://auth.test'
export const AUDIENCE = 'tessera'
/** A fixed "now" (ms) for the injectable clock. */
export const T0 = 1_750_000_000_000
export const NOW = T0 / 1000

export type Alg = 'EdDSA' | 'ES256'

export interface Signer {
  kid: string
  alg: Alg
  jwk: JWK
  spki: string
  sign(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  /** Signs any payload bytes, as the issuer's key would, with extra header members. */
  signRaw(payload: string, header?: Record<string, unknown>): Promise<string>
}

export function accessClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: '42',
    iat: NOW,
    exp: NOW + 300,
    jti: randomUUID(),
    sid: 'session-1',
    scope: 'notes:read notes:write',
    token_type: 'access',
    ...overrides,
  }
}

/** A key pair of the "auth server" and a way to mint access tokens with it. */
export async function createSigner(alg: Alg = 'EdDSA', kid = `kid-${alg}`): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return {
    kid,
    alg,
    jwk,
    spki: await exportSPKI(publicKey),
    sign(claims = {}, header = {}) {
      return new SignJWT(accessClaims(claims))
        .setProtectedHeader({ alg, typ: 'at+jwt', kid, ...header })
        .sign(privateKey)
    },
    signRaw(payload, header = {}) {
      return new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg, typ: 'at+jwt', kid, ...header })
        .sign(privateKey)
    },
  }
}

export function b64url(value: string | Uint8Array | Record<string, unknown>): string {
  const bytes =
    typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value)
  return Buffer.from(bytes).toString('base64url')
}

/** A token assembled by hand, for headers jose refuses to produce. */
export function rawToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = '',
): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`
}

/** The classic key-confusion forgery: HS256 with a public key's bytes as the MAC secret. */
export function hs256With(secret: string | Uint8Array, header: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', ...header })}.${b64url(accessClaims())}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

/** Flips one bit in the middle of a token's signature. */
export function flipSignature(token: string): string {
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  signature[10]! ^= 0x01
  return `${token.slice(0, dot + 1)}${signature.toString('base64url')}`
}

export interface FakeJwks {
  fetch: typeof fetch
  keys: JWK[]
  calls: number
  /** When set, every fetch rejects as a network error would. */
  down: boolean
  status: number
  cacheControl: string | undefined
  body: string | undefined
  /** Resolves the pending fetches (when `hold` is on). */
  release(): void
  hold: boolean
}

/** An injected `fetch` that serves a JWKS the test controls, counting requests. */
export function fakeJwks(keys: JWK[]): FakeJwks {
  let waiting: (() => void)[] = []
  const state: FakeJwks = {
    keys,
    calls: 0,
    down: false,
    status: 200,
    cacheControl: undefined,
    body: undefined,
    hold: false,
    release() {
      for (const resolve of waiting) resolve()
      waiting = []
    },
    fetch: async () => {
      state.calls++
      if (state.hold) await new Promise<void>((resolve) => waiting.push(resolve))
      if (state.down) throw new TypeError('fetch failed')
      const headers = new Headers({ 'content-type': 'application/json' })
      if (state.cacheControl !== undefined) headers.set('cache-control', state.cacheControl)
      return new Response(state.body ?? JSON.stringify({ keys: state.keys }), {
        status: state.status,
        headers,
      })
    },
  }
  return state
}

/** A clock the test moves by hand. */
export function manualClock(start = T0): { now: () => number; advance(ms: number): void } {
  let current = start
  return {
    now: () => current,
    advance(ms) {
      current += ms
    },
  }
}
