import { type Static, Type } from 'typebox'

/** JOSE `typ` of an access token (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt'
/** JOSE `typ` of a refresh token: never accepted where an access token is expected. */
export const REFRESH_TOKEN_TYP = 'rt+jwt'

export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256', 'HS256'] as const
export type AccessTokenAlgorithm = (typeof ACCESS_TOKEN_ALGORITHMS)[number]

const NumericDate = Type.Integer({ minimum: 0, description: 'seconds since the epoch' })

export const AccessTokenClaimsSchema = Type.Object({
  iss: Type.String(),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  sub: Type.String({ description: 'the user id, as text' }),
  exp: NumericDate,
  iat: NumericDate,
  jti: Type.String(),
  sid: Type.String({ description: 'the session this token belongs to' }),
  scope: Type.String({ description: 'space-separated scopes' }),
  token_type: Type.Literal('access'),
  username: Type.Optional(Type.String()),
})
export type AccessTokenClaims = Static<typeof AccessTokenClaimsSchema>

export const RefreshTokenClaimsSchema = Type.Object({
  iss: Type.String(),
  sub: Type.String(),
  exp: NumericDate,
  iat: NumericDate,
  jti: Type.String(),
  sid: Type.String(),
  ctr: Type.Integer({ minimum: 0, description: 'rotation counter within the session' }),
  token_type: Type.Literal('refresh'),
})
export type RefreshTokenClaims = Static<typeof RefreshTokenClaimsSchema>

export const JwkSchema = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    use: Type.Literal('sig'),
    alg: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
export type Jwk = Static<typeof JwkSchema>

export const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema) })
export type Jwks = Static<typeof JwksSchema>
