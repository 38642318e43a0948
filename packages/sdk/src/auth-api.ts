import ky, { type Options } from 'ky'
import type { RegisterRequest, RegisterResponse, TokenObtainRequest } from './contract.ts'
import { TesseraError } from './errors.ts'
import { errorCodeOf, errorFromResponse, readBody, toTesseraError } from './responses.ts'
import { isTokenResponse, type Session, sessionFromTokenResponse } from './session.ts'

export interface AuthApiOptions {
  authUrl: string
  fetch: typeof globalThis.fetch
  timeout: number
  /** Timeout of a refresh grant: shorter, so a repeat still lands in the grace window. */
  refreshTimeout: number
  now: () => number
}

/** The unauthenticated calls to the auth server; each answer is a value or a typed error. */
export interface AuthApi {
  passwordGrant(credentials: TokenObtainRequest): Promise<Session>
  /** Rejects with `session_expired` only when the server definitively refused the token. */
  refreshGrant(refreshToken: string): Promise<Session>
  revoke(refreshToken: string): Promise<void>
  register(request: RegisterRequest): Promise<RegisterResponse>
}

function isDefinitiveRefusal(status: number, body: unknown): boolean {
  const code = errorCodeOf(body)
  return (
    (status === 400 || status === 401) && (code === 'invalid_grant' || code === 'token_not_valid')
  )
}

export function createAuthApi({
  authUrl,
  fetch,
  timeout,
  refreshTimeout,
  now,
}: AuthApiOptions): AuthApi {
  // Retries belong to the client (backoff, Retry-After, single flight), never to ky here.
  const api = ky.create({ prefixUrl: authUrl, fetch, timeout, retry: 0, throwHttpErrors: false })

  async function send(
    path: string,
    options: Options,
  ): Promise<{ response: Response; body: unknown }> {
    let response: Response
    try {
      response = await api(path, options)
    } catch (error) {
      throw await toTesseraError(error, now)
    }
    return { response, body: await readBody(response) }
  }

  async function tokenRequest(
    form: Record<string, string>,
    requestTimeout = timeout,
  ): Promise<{
    response: Response
    body: unknown
    session?: Session
  }> {
    const result = await send('oauth/token', {
      method: 'post',
      body: new URLSearchParams(form),
      headers: { accept: 'application/json' },
      timeout: requestTimeout,
    })
    if (!result.response.ok) return result
    if (!isTokenResponse(result.body)) {
      throw new TesseraError('invalid_response', 'The token endpoint answered without tokens', {
        status: result.response.status,
        body: result.body,
      })
    }
    return { ...result, session: sessionFromTokenResponse(result.body, now()) }
  }

  return {
    async passwordGrant({ username, password, scope }) {
      const form: Record<string, string> = { grant_type: 'password', username, password }
      if (scope) form.scope = scope
      const { response, body, session } = await tokenRequest(form)
      if (session) return session
      if (isDefinitiveRefusal(response.status, body) || errorCodeOf(body) === 'no_active_account') {
        throw new TesseraError('invalid_credentials', 'Wrong username or password', {
          status: response.status,
          body,
        })
      }
      throw errorFromResponse(response, body, now)
    },

    async refreshGrant(refreshToken) {
      const { response, body, session } = await tokenRequest(
        { grant_type: 'refresh_token', refresh_token: refreshToken },
        refreshTimeout,
      )
      if (session) return session
      if (isDefinitiveRefusal(response.status, body)) {
        throw new TesseraError('session_expired', 'The session has ended; sign in again', {
          status: response.status,
          body,
        })
      }
      throw errorFromResponse(response, body, now)
    },

    async revoke(refreshToken) {
      const { response, body } = await send('api/token/blacklist/', {
        method: 'post',
        json: { refresh: refreshToken },
      })
      // A token the server already refuses is as revoked as it gets.
      if (response.ok || isDefinitiveRefusal(response.status, body)) return
      throw errorFromResponse(response, body, now)
    },

    async register(request) {
      const { response, body } = await send('api/register/', { method: 'post', json: request })
      if (response.ok) return body as RegisterResponse
      const options = { status: response.status, body }
      if (response.status === 409 || errorCodeOf(body) === 'username_taken') {
        throw new TesseraError('username_taken', 'That username is taken', options)
      }
      if (response.status === 400) {
        throw new TesseraError('validation_failed', 'The registration was refused', options)
      }
      throw errorFromResponse(response, body, now)
    },
  }
}
