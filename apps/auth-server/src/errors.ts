import type { ErrorCode, OAuthErrorCode } from '@tessera/claims'

/**
 * An error a client may see: a stable `code` (API), an HTTP status and a message that is safe to
 * show. Anything that is not an `ApiError` answers 500 with a generic body.
 */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly code: ErrorCode
  readonly statusCode: number
  /** simplejwt/DRF field errors (`{"username": ["This field is required."]}`), answered as is. */
  readonly fields: Record<string, string[]> | undefined

  constructor(
    statusCode: number,
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; fields?: Record<string, string[]> },
  ) {
    super(message, { cause: options?.cause })
    this.statusCode = statusCode
    this.code = code
    this.fields = options?.fields
  }
}

/** simplejwt's answer to any bad, expired, revoked or reused token. */
export class InvalidTokenError extends ApiError {
  override name = 'InvalidTokenError'

  constructor(message = 'Token is invalid or expired', options?: { cause?: unknown }) {
    super(401, 'token_not_valid', message, options)
  }
}

/** Bad credentials: one body for a wrong password, an unknown or a disabled user. */
export class InvalidCredentialsError extends ApiError {
  override name = 'InvalidCredentialsError'

  constructor() {
    super(401, 'no_active_account', 'No active account found with the given credentials')
  }
}

export class NotAuthenticatedError extends ApiError {
  override name = 'NotAuthenticatedError'

  constructor() {
    super(401, 'not_authenticated', 'Authentication credentials were not provided.')
  }
}

export class ValidationError extends ApiError {
  override name = 'ValidationError'

  constructor(fields: Record<string, string[]>) {
    super(400, 'invalid', 'Invalid input.', { fields })
  }
}

/** RFC 6749 §5.2 errors, answered only by `/oauth/*` routes. */
export class OAuthError extends Error {
  override name = 'OAuthError'
  readonly error: OAuthErrorCode
  readonly statusCode: number
  /** `WWW-Authenticate` for an `invalid_client` that authenticated with HTTP Basic. */
  readonly challenge: string | undefined

  constructor(
    error: OAuthErrorCode,
    description: string,
    options?: { cause?: unknown; challenge?: string | undefined },
  ) {
    super(description, { cause: options?.cause })
    this.error = error
    this.statusCode = error === 'invalid_client' ? 401 : 400
    this.challenge = options?.challenge
  }
}
