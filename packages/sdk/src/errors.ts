/**
 * Stable error codes: API, unlike the messages next to them.
 *
 * Transient codes (`rate_limited`, `server_error`, `network_error`, `timeout`) never end a
 * session; `session_expired` is raised only when the auth server definitively rejected the
 * refresh token, and the client is then signed out. `invalid_response`: a body that is not what
 * was asked for (HTML where JSON was expected). `invalid_request`: a request that could not be
 * built from the URL and options given. `storage_error`: the storage adapter threw. `disposed`:
 * the client's `dispose()` was called.
 */
export const TESSERA_ERROR_CODES = [
  'invalid_credentials',
  'username_taken',
  'validation_failed',
  'not_signed_in',
  'session_expired',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'server_error',
  'network_error',
  'timeout',
  'aborted',
  'invalid_response',
  'invalid_request',
  'storage_error',
  'disposed',
  'http_error',
] as const
export type TesseraErrorCode = (typeof TESSERA_ERROR_CODES)[number]

const TRANSIENT_CODES: ReadonlySet<TesseraErrorCode> = new Set([
  'rate_limited',
  'server_error',
  'network_error',
  'timeout',
])

export interface TesseraErrorOptions {
  status?: number
  body?: unknown
  /** Milliseconds the server asked us to wait (`Retry-After`), when it said so. */
  retryAfter?: number
  cause?: unknown
}

/**
 * Every error the SDK throws. Branch on `code`, never on `message`.
 *
 * @example
 * try {
 *   await client.login({ username, password })
 * } catch (error) {
 *   if (isTesseraError(error) && error.code === 'invalid_credentials') showWrongPassword()
 *   else throw error
 * }
 */
export class TesseraError extends Error {
  override readonly name = 'TesseraError'
  readonly code: TesseraErrorCode
  readonly status: number | undefined
  readonly body: unknown
  readonly retryAfter: number | undefined

  constructor(code: TesseraErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status
    this.body = options.body
    this.retryAfter = options.retryAfter
  }

  /** True for failures worth retrying later: the session is kept. */
  get transient(): boolean {
    return TRANSIENT_CODES.has(this.code)
  }
}

/**
 * Type guard for errors thrown by this SDK. It also recognises errors from another copy of the
 * SDK bundled twice into one app, where `instanceof` would fail.
 *
 * @example
 * if (isTesseraError(error) && error.code === 'not_signed_in') redirectToLogin()
 */
export function isTesseraError(error: unknown): error is TesseraError {
  if (error instanceof TesseraError) return true
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'TesseraError' &&
    typeof (error as { code?: unknown }).code === 'string'
  )
}
