// The wire types of @tessera/claims, written out as plain interfaces so the published `.d.ts`
// stands alone: claims' types are `Static<typeof Schema>`, and inlining them would drag the
// whole of TypeBox's type machinery into the SDK's declarations. test/contract.test.ts asserts
// that each one equals its claims counterpart, so `pnpm typecheck` catches any drift.

export interface TokenObtainRequest {
  username: string
  password: string
  scope?: string
}

export interface TokenPair {
  refresh: string
  access: string
}

export interface RegisterRequest {
  username: string
  password: string
  email?: string
}

export interface RegisterResponse {
  id: string
  username: string
}

export interface MeResponse {
  id: string
  username: string
  email: string | null
  scopes: string[]
  session_id: string
  created_at: string
}

export interface SessionInfo {
  id: string
  current: boolean
  user_agent: string | null
  ip: string | null
  scope: string
  created_at: string
  last_used_at: string
  expires_at: string
}

export interface SessionList {
  sessions: SessionInfo[]
}

export interface SessionsEnded {
  ended: number
}

export interface OAuthTokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  scope: string
}

export interface ErrorBody {
  detail: string
  code: string
}

export interface OAuthError {
  error: string
  error_description?: string
}

export type FieldErrors = Record<string, string[]>

export interface AccessTokenClaims {
  iss: string
  aud: string | string[]
  sub: string
  exp: number
  iat: number
  jti: string
  sid: string
  scope: string
  token_type: 'access'
  username?: string
}
