import { type Static, Type } from 'typebox'
import { ClientString, NO_NUL_PATTERN } from './strings.ts'

const Username = ClientString({ minLength: 1, maxLength: 150 })
/** simplejwt-compatible endpoints accept any non-empty password; registration is stricter. */
const AnyPassword = ClientString({ minLength: 1, maxLength: 1024 })
const Token = ClientString({ minLength: 1, maxLength: 8192 })
const Scope = ClientString({ maxLength: 1024 })
const ClientId = ClientString({ maxLength: 256 })
const DateTime = Type.String({ format: 'date-time' })

export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 256

export const TokenObtainRequestSchema = Type.Object({
  username: Username,
  password: AnyPassword,
  scope: Type.Optional(Scope),
})
export type TokenObtainRequest = Static<typeof TokenObtainRequestSchema>

export const TokenPairSchema = Type.Object({
  refresh: Type.String(),
  access: Type.String(),
})
export type TokenPair = Static<typeof TokenPairSchema>

export const TokenRefreshRequestSchema = Type.Object({ refresh: Token })
export type TokenRefreshRequest = Static<typeof TokenRefreshRequestSchema>

export const TokenVerifyRequestSchema = Type.Object({ token: Token })
export type TokenVerifyRequest = Static<typeof TokenVerifyRequestSchema>

export const TokenBlacklistRequestSchema = Type.Object({ refresh: Token })
export type TokenBlacklistRequest = Static<typeof TokenBlacklistRequestSchema>

export const EmptySchema = Type.Object({}, { additionalProperties: false })
export type Empty = Static<typeof EmptySchema>

export const RegisterRequestSchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 150, pattern: '^[A-Za-z0-9@.+_-]+$' }),
  password: Type.String({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    pattern: NO_NUL_PATTERN,
  }),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
})
export type RegisterRequest = Static<typeof RegisterRequestSchema>

export const RegisterResponseSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
})
export type RegisterResponse = Static<typeof RegisterResponseSchema>

export const MeResponseSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  session_id: Type.String(),
  created_at: DateTime,
})
export type MeResponse = Static<typeof MeResponseSchema>

export const SessionSchema = Type.Object({
  id: Type.String(),
  current: Type.Boolean({ description: 'the session of the token that asked' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  scope: Type.String(),
  created_at: DateTime,
  last_used_at: DateTime,
  expires_at: DateTime,
})
export type SessionInfo = Static<typeof SessionSchema>

export const SessionListSchema = Type.Object({ sessions: Type.Array(SessionSchema) })
export type SessionList = Static<typeof SessionListSchema>

export const SessionsEndedSchema = Type.Object({ ended: Type.Integer({ minimum: 0 }) })
export type SessionsEnded = Static<typeof SessionsEndedSchema>

/** RFC 6749 §4.3 and §6 token requests (form-encoded; JSON is accepted too). */
export const OAuthTokenRequestSchema = Type.Object({
  grant_type: ClientString({ maxLength: 64 }),
  username: Type.Optional(Username),
  password: Type.Optional(AnyPassword),
  refresh_token: Type.Optional(Token),
  scope: Type.Optional(Scope),
  client_id: Type.Optional(ClientId),
  client_secret: Type.Optional(ClientId),
})
export type OAuthTokenRequest = Static<typeof OAuthTokenRequestSchema>

/** RFC 6749 §5.1 successful token response. */
export const OAuthTokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
  scope: Type.String(),
})
export type OAuthTokenResponse = Static<typeof OAuthTokenResponseSchema>

/** RFC 7009 revocation request. */
export const OAuthRevokeRequestSchema = Type.Object({
  token: Type.Optional(Token),
  token_type_hint: Type.Optional(ClientString({ maxLength: 64 })),
  client_id: Type.Optional(ClientId),
  client_secret: Type.Optional(ClientId),
})
export type OAuthRevokeRequest = Static<typeof OAuthRevokeRequestSchema>

/** RFC 7662 introspection request and response. */
export const OAuthIntrospectRequestSchema = OAuthRevokeRequestSchema
export type OAuthIntrospectRequest = Static<typeof OAuthIntrospectRequestSchema>

export const OAuthIntrospectResponseSchema = Type.Object({
  active: Type.Boolean(),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  sub: Type.Optional(Type.String()),
  aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  iss: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
  sid: Type.Optional(Type.String()),
})
export type OAuthIntrospectResponse = Static<typeof OAuthIntrospectResponseSchema>

/** RFC 8414 authorization-server metadata (the fields Tessera publishes). */
export const AuthorizationServerMetadataSchema = Type.Object({
  issuer: Type.String(),
  token_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  jwks_uri: Type.String(),
  grant_types_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  service_documentation: Type.Optional(Type.String()),
})
export type AuthorizationServerMetadata = Static<typeof AuthorizationServerMetadataSchema>

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
})
export type Health = Static<typeof HealthSchema>
