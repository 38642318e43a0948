import { type Static, Type } from 'typebox'

/**
 * Stable error codes: API, unlike the messages next to them. simplejwt's own codes
 * (`token_not_valid`, `no_active_account`, `not_authenticated`) keep their spelling.
 */
export const ERROR_CODES = [
  'token_not_valid',
  'no_active_account',
  'not_authenticated',
  'authentication_failed',
  'insufficient_scope',
  'permission_denied',
  'invalid',
  'parse_error',
  'unsupported_media_type',
  'request_too_large',
  'username_taken',
  'not_found',
  'note_limit_reached',
  'method_not_allowed',
  'throttled',
  'service_unavailable',
  'internal_error',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

/** simplejwt / DRF error body: `{"detail": "...", "code": "..."}`. */
export const ErrorBodySchema = Type.Object({
  detail: Type.String(),
  code: Type.String(),
})
export type ErrorBody = Static<typeof ErrorBodySchema>

/** DRF field errors: `{"username": ["This field is required."]}`. */
export const FieldErrorsSchema = Type.Record(Type.String(), Type.Array(Type.String()))
export type FieldErrors = Static<typeof FieldErrorsSchema>

export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'server_error',
  'temporarily_unavailable',
] as const
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number]

/** RFC 6749 §5.2 error body, used by every `/oauth/*` endpoint. */
export const OAuthErrorSchema = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String()),
})
export type OAuthError = Static<typeof OAuthErrorSchema>
