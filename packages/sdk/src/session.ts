import type { AccessTokenClaims, OAuthTokenResponse } from './contract.ts'

/**
 * A signed-in session as the client keeps it. Times are milliseconds on the device clock, and
 * `expiresAt - receivedAt` is the lifetime the server gave: a device clock that is off by an
 * hour shifts both equally, so refresh timing never depends on it.
 */
export interface Session {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  scope: string
  /** Device-clock time when the tokens arrived. */
  receivedAt: number
  /** Device-clock time when the access token expires: `receivedAt` + the server's lifetime. */
  expiresAt: number
}

const FALLBACK_LIFETIME_SECONDS = 60

/**
 * Reads the payload of a JWT without verifying it: the client only needs its own token's
 * `exp`, `iat`, `sid` and `scope`; resource servers do the verifying.
 *
 * @example
 * const payload = decodeJwtPayload(session.accessToken) // { sub: '42', scope: 'notes:read', … }
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1]
  if (!payload) return null
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/')
    const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export function decodeClaims(accessToken: string): AccessTokenClaims | null {
  const claims = decodeJwtPayload(accessToken)
  if (!claims || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return null
  return claims as unknown as AccessTokenClaims
}

/** The auth server's session id (`sid`) the tokens belong to, when the access token names one. */
export function sessionIdOf(session: Session): string | null {
  const sid = decodeJwtPayload(session.accessToken)?.sid
  return typeof sid === 'string' && sid !== '' ? sid : null
}

/**
 * The access token's lifetime in seconds, in the server's own terms: `expires_in`, or else
 * `exp - iat` from the token (both stamped by the server's clock). The device clock is never
 * compared with a server timestamp.
 */
function lifetimeSeconds(response: OAuthTokenResponse): number {
  if (Number.isFinite(response.expires_in) && response.expires_in > 0) return response.expires_in
  const claims = decodeJwtPayload(response.access_token)
  if (claims && typeof claims.exp === 'number' && typeof claims.iat === 'number') {
    const lifetime = claims.exp - claims.iat
    if (lifetime > 0) return lifetime
  }
  return FALLBACK_LIFETIME_SECONDS
}

export function isTokenResponse(value: unknown): value is OAuthTokenResponse {
  if (typeof value !== 'object' || value === null) return false
  const body = value as Record<string, unknown>
  return typeof body.access_token === 'string' && typeof body.refresh_token === 'string'
}

export function sessionFromTokenResponse(
  response: OAuthTokenResponse,
  receivedAt: number,
): Session {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    tokenType: 'Bearer',
    scope: typeof response.scope === 'string' ? response.scope : '',
    receivedAt,
    expiresAt: receivedAt + lifetimeSeconds(response) * 1000,
  }
}

/**
 * When to refresh: `margin` before expiry, but never earlier than three quarters into the
 * lifetime, so short-lived tokens are not refreshed the moment they arrive.
 */
export function refreshDueAt(session: Session, margin: number): number {
  const lifetime = session.expiresAt - session.receivedAt
  return session.expiresAt - Math.min(margin, lifetime / 4)
}

export function serializeSession(session: Session): string {
  return JSON.stringify({ v: 1, ...session })
}

export function parseSession(raw: string | null): Session | null {
  if (!raw) return null
  try {
    const value = JSON.parse(raw) as Record<string, unknown>
    if (
      value.v !== 1 ||
      typeof value.accessToken !== 'string' ||
      typeof value.refreshToken !== 'string' ||
      typeof value.expiresAt !== 'number' ||
      typeof value.receivedAt !== 'number'
    ) {
      return null
    }
    return {
      accessToken: value.accessToken,
      refreshToken: value.refreshToken,
      tokenType: 'Bearer',
      scope: typeof value.scope === 'string' ? value.scope : '',
      receivedAt: value.receivedAt,
      expiresAt: value.expiresAt,
    }
  } catch {
    return null
  }
}
