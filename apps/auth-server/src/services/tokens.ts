import { createHmac, randomUUID } from 'node:crypto'
import {
  type AccessTokenClaims,
  AccessTokenClaimsSchema,
  REFRESH_TOKEN_TYP,
  type RefreshTokenClaims,
  RefreshTokenClaimsSchema,
} from '@tessera/claims'
import type { Session } from '@tessera/db'
import { createSigner, createVerifier } from 'fast-jwt'
import { Compile } from 'typebox/compile'
import { InvalidTokenError } from '../errors.ts'
import type { KeyStore } from './key-store.ts'

export interface TokenServiceOptions {
  keys: KeyStore
  /** Server-only HS256 key for refresh tokens; never published, never an access-token key. */
  refreshSecret: string
  issuer: string
  audience: string
  accessTokenLifetimeSeconds: number
  refreshTokenLifetimeSeconds: number
  clock: () => number
}

export interface MintedAccessToken {
  token: string
  claims: AccessTokenClaims
  expiresIn: number
}

export interface TokenService {
  mintAccess(session: Pick<Session, 'id' | 'userId' | 'scope'>): MintedAccessToken
  /**
   * The refresh token for the session's counter at `session.rotatedAt`. Deterministic: the same
   * row state always yields the same token, which is how a replay in the grace window gets the
   * very successor it lost, with nothing raw stored.
   */
  mintRefresh(
    session: Pick<Session, 'id' | 'userId' | 'counter' | 'rotatedAt' | 'expiresAt'>,
  ): string
  /** MAC, `typ`, issuer, shape and expiry of a refresh token; throws `InvalidTokenError`. */
  verifyRefresh(token: string): RefreshTokenClaims
  /** Shape, `token_type` and expiry of claims whose signature was already checked. */
  checkAccessClaims(claims: unknown): AccessTokenClaims
}

const refreshShape = Compile(RefreshTokenClaimsSchema)
const accessShape = Compile(AccessTokenClaimsSchema)

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { keys, refreshSecret, issuer, audience, clock } = options
  const signRefresh = createSigner({
    key: refreshSecret,
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: REFRESH_TOKEN_TYP },
  })
  const verifyRefreshMac = createVerifier({
    key: refreshSecret,
    algorithms: ['HS256'],
    checkTyp: REFRESH_TOKEN_TYP,
    allowedIss: issuer,
    ignoreExpiration: true,
    ignoreNotBefore: true,
    cache: false,
  })
  const nowSeconds = () => Math.floor(clock() / 1000)

  return {
    mintAccess(session) {
      const iat = nowSeconds()
      const claims: AccessTokenClaims = {
        iss: issuer,
        aud: audience,
        sub: String(session.userId),
        exp: iat + options.accessTokenLifetimeSeconds,
        iat,
        jti: randomUUID(),
        sid: session.id,
        scope: session.scope,
        token_type: 'access',
      }
      return { token: keys.sign(claims), claims, expiresIn: options.accessTokenLifetimeSeconds }
    },

    mintRefresh(session) {
      const iat = Math.floor(session.rotatedAt.getTime() / 1000)
      const exp = Math.min(
        iat + options.refreshTokenLifetimeSeconds,
        Math.floor(session.expiresAt.getTime() / 1000),
      )
      // Key order is fixed so that the same row always serialises to the same bytes.
      const claims: RefreshTokenClaims = {
        iss: issuer,
        sub: String(session.userId),
        exp,
        iat,
        jti: createHmac('sha256', refreshSecret)
          .update(`${session.id}.${session.counter}`)
          .digest('base64url')
          .slice(0, 22),
        sid: session.id,
        ctr: session.counter,
        token_type: 'refresh',
      }
      return signRefresh(claims)
    },

    verifyRefresh(token) {
      let claims: unknown
      try {
        claims = verifyRefreshMac(token)
      } catch (cause) {
        throw new InvalidTokenError('Token is invalid or expired', { cause })
      }
      if (!refreshShape.Check(claims) || claims.exp <= nowSeconds()) {
        throw new InvalidTokenError('Token is invalid or expired')
      }
      return claims
    },

    checkAccessClaims(claims) {
      if (!accessShape.Check(claims) || claims.token_type !== 'access') {
        throw new InvalidTokenError('Given token not valid for any token type')
      }
      const now = nowSeconds()
      if (claims.exp <= now || claims.iat > now + 60) {
        throw new InvalidTokenError('Token is invalid or expired')
      }
      return claims
    },
  }
}

/**
 * Whether a token says it is a refresh token (`typ: rt+jwt`). Only picks which checks to run:
 * each kind is then verified with its own key and rules.
 */
export function isRefreshToken(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'))
  try {
    return JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))?.typ === REFRESH_TOKEN_TYP
  } catch {
    return false
  }
}
