import { isHTTPError, isTimeoutError } from 'ky'
import { TesseraError } from './errors.ts'

/** Reads a body once: JSON when it parses, text otherwise, `undefined` when empty. */
export async function readBody(response: Response): Promise<unknown> {
  let text: string
  try {
    text = await response.text()
  } catch {
    return undefined
  }
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

function field(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const value = (body as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

/** The server's stable error code: simplejwt's `code` or RFC 6749's `error`. */
export function errorCodeOf(body: unknown): string | undefined {
  return field(body, 'code') ?? field(body, 'error')
}

/**
 * `Retry-After` in milliseconds. An HTTP-date is read against the response's own `Date`
 * header when there is one, so a skewed device clock does not stretch or cut the wait.
 */
export function retryAfterOf(headers: Headers, now: () => number): number | undefined {
  const value = headers.get('retry-after')?.trim()
  if (!value) return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  if (Number.isNaN(at)) return undefined
  const serverDate = Date.parse(headers.get('date') ?? '')
  const base = Number.isNaN(serverDate) ? now() : serverDate
  return Math.max(0, at - base)
}

function messageOf(status: number, body: unknown): string {
  return field(body, 'detail') ?? field(body, 'error_description') ?? `HTTP ${status}`
}

/** Maps any non-2xx answer to a typed error; callers special-case the codes they expect. */
export function errorFromResponse(
  response: Response,
  body: unknown,
  now: () => number,
): TesseraError {
  const { status } = response
  const retryAfter = retryAfterOf(response.headers, now)
  const options = { status, body, retryAfter }
  const message = messageOf(status, body)
  if (status === 429) return new TesseraError('rate_limited', message, options)
  if (status >= 500) return new TesseraError('server_error', `HTTP ${status}`, options)
  if (status === 401) return new TesseraError('unauthorized', message, options)
  if (status === 403) return new TesseraError('forbidden', message, options)
  return new TesseraError('http_error', message, options)
}

/** Turns whatever fetch or ky threw into a typed error; typed errors pass through. */
export async function toTesseraError(error: unknown, now: () => number): Promise<TesseraError> {
  if (error instanceof TesseraError) return error
  if (isHTTPError(error)) {
    return errorFromResponse(error.response, await readBody(error.response), now)
  }
  if (isTimeoutError(error)) {
    return new TesseraError('timeout', 'The request timed out', { cause: error })
  }
  // `.json()` on a body that is not JSON: an HTML error page from a proxy, say.
  if (error instanceof SyntaxError) {
    return new TesseraError('invalid_response', 'The response body is not valid JSON', {
      cause: error,
    })
  }
  if (error instanceof Error && error.name === 'AbortError') {
    return new TesseraError('aborted', 'The request was aborted', { cause: error })
  }
  return new TesseraError('network_error', 'The server could not be reached', { cause: error })
}
