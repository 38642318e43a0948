/**
 * Why a token was refused. Codes are API (log them, branch on them); messages are not.
 * Every one of them means "answer 401 invalid_token" to the client.
 */
export const TOKEN_ERROR_CODES = [
  'TOKEN_MALFORMED',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_TYPE_INVALID',
  'ALGORITHM_NOT_ALLOWED',
  'HEADER_NOT_ALLOWED',
  'KEY_NOT_FOUND',
  'SIGNATURE_INVALID',
  'ISSUER_INVALID',
  'AUDIENCE_INVALID',
  'CLAIMS_INVALID',
] as const
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number]

export type VerifyErrorCode = TokenErrorCode | 'JWKS_UNAVAILABLE'

/** Base class of every error `@tessera/verify` throws on purpose; `code` is stable. */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode

  constructor(code: VerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VerifyError'
    this.code = code
  }
}

/**
 * The token is not acceptable: malformed, expired, for someone else, or not signed by a key of
 * the issuer. The message is fixed per code, so it is safe to send as `error_description`.
 */
export class TokenInvalidError extends VerifyError {
  declare readonly code: TokenErrorCode

  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'TokenInvalidError'
  }
}

/**
 * No key set could be obtained: the JWKS endpoint failed and no earlier answer is cached.
 * The token may well be valid; this is the resource server's problem (503), not the client's.
 */
export class JwksUnavailableError extends VerifyError {
  declare readonly code: 'JWKS_UNAVAILABLE'

  constructor(message: string, options?: { cause?: unknown }) {
    super('JWKS_UNAVAILABLE', message, options)
    this.name = 'JwksUnavailableError'
  }
}

export function isVerifyError(error: unknown): error is VerifyError {
  return error instanceof VerifyError
}
