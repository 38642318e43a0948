import { describe, expect, it } from 'vitest'
import { isTesseraError, type TesseraError } from '../src/index.ts'
import { API_URL } from './fake-server.ts'
import { CREDENTIALS, caught, setup } from './helpers.ts'

describe('refresh', () => {
  it('makes exactly one refresh call for 50 concurrent requests on an expired token', async () => {
    const { server, client, clock, api } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.invalidateAccessTokens()

    const results = await Promise.all(
      Array.from({ length: 50 }, () => api.get('api/restricted/').json<{ message: string }>()),
    )

    expect(results).toHaveLength(50)
    expect(results.every((result) => result.message === 'hello ada')).toBe(true)
    expect(server.calls.refresh).toBe(1)
    expect(server.calls.restricted).toBe(50)
  })

  it('makes exactly one refresh call when 50 concurrent requests are refused with invalid_token', async () => {
    const { server, client, api } = setup()
    const first = await client.login(CREDENTIALS)
    server.invalidateAccessTokens()

    await Promise.all(Array.from({ length: 50 }, () => api.get('api/restricted/').json()))

    expect(server.calls.refresh).toBe(1)
    // 50 refused with the old token, 50 retried with the new one
    expect(server.calls.bearers.filter((token) => token === first.accessToken)).toHaveLength(50)
    expect(server.calls.restricted).toBe(100)
  })

  it('refreshes once and retries the original request once on 401 invalid_token', async () => {
    const { server, client, api, events } = setup()
    await client.login(CREDENTIALS)
    server.invalidateAccessTokens()

    const created = await api.post('api/notes', { json: { title: 'kept' } }).json()

    expect(created).toEqual({ received: { title: 'kept' } })
    expect(server.calls.refresh).toBe(1)
    expect(server.calls.restricted).toBe(2)
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
  })

  it('does not retry a second time when the refreshed token is refused too', async () => {
    const { server, client } = setup()
    await client.login(CREDENTIALS)
    let attempts = 0
    // A resource server that refuses every token (say, it expects another audience).
    const api = client.http.extend({
      prefixUrl: API_URL,
      fetch: async () => {
        attempts += 1
        return new Response('{"detail":"no","code":"token_not_valid"}', {
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        })
      },
    })

    const error = (await caught(api.get('api/restricted/').json())) as TesseraError

    expect(isTesseraError(error)).toBe(true)
    expect(error.code).toBe('unauthorized')
    expect(error.status).toBe(401)
    expect(error.body).toEqual({ detail: 'no', code: 'token_not_valid' })
    expect(attempts).toBe(2)
    expect(server.calls.refresh).toBe(1)
  })

  it('leaves a 401 without invalid_token alone', async () => {
    const { server, client } = setup()
    await client.login(CREDENTIALS)
    const api = client.http.extend({
      prefixUrl: API_URL,
      fetch: async () =>
        new Response('{"detail":"no","code":"not_authenticated"}', { status: 401 }),
    })

    const error = (await caught(api.get('api/restricted/'))) as TesseraError

    expect(error.code).toBe('unauthorized')
    expect(server.calls.refresh).toBe(0)
  })

  it.each([
    ['503', { status: 503, body: { detail: 'down', code: 'service_unavailable' } }, 'server_error'],
    ['429', { status: 429, body: { detail: 'slow down', code: 'throttled' } }, 'rate_limited'],
    ['a network error', 'network' as const, 'network_error'],
  ])('keeps the session after %s from the refresh endpoint', async (_name, answer, code) => {
    const { server, client, clock, api, events } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh(answer)

    const error = (await caught(api.get('api/restricted/').json())) as TesseraError

    expect(error.code).toBe(code)
    expect(error.transient).toBe(true)
    expect(events.map((event) => event.type)).toEqual(['signed_in'])
    expect(await client.getSession()).not.toBeNull()
  })

  it('uses the still-valid access token when an early refresh fails with a 503', async () => {
    const { server, client, clock, api } = setup()
    const session = await client.login(CREDENTIALS)
    clock.advance(280_000) // due (margin 30 s) but not expired
    server.failNextRefresh({ status: 503 })

    await expect(api.get('api/restricted/').json()).resolves.toEqual({ message: 'hello ada' })
    expect(server.calls.refresh).toBe(1)
    expect(server.calls.bearers.at(-1)).toBe(session.accessToken)
  })

  it('signs out on invalid_grant and rejects the waiting request with session_expired', async () => {
    const { server, client, clock, api, events } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.endSession()

    const error = (await caught(api.get('api/restricted/').json())) as TesseraError

    expect(error.code).toBe('session_expired')
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'session_expired' })
    expect(await client.getSession()).toBeNull()
    const later = (await caught(api.get('api/restricted/').json())) as TesseraError
    expect(later.code).toBe('not_signed_in')
    expect(server.calls.refresh).toBe(1)
  })

  it('signs out on 401 token_not_valid from the refresh endpoint (reuse detected)', async () => {
    const { server, client, clock, events } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh({
      status: 401,
      body: { detail: 'Token is invalid or expired', code: 'token_not_valid' },
    })

    expect(((await caught(client.getAccessToken())) as TesseraError).code).toBe('session_expired')
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'session_expired' })
  })

  it('keeps the session on a 400 that is not invalid_grant', async () => {
    const { server, client, clock } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh({ status: 400, body: { error: 'invalid_request' } })

    expect(((await caught(client.getAccessToken())) as TesseraError).code).toBe('http_error')
    expect(await client.getSession()).not.toBeNull()
  })

  it('does not call the server again before Retry-After has passed', async () => {
    const { server, client, clock } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh({ status: 429, headers: { 'retry-after': '120' } })

    const first = (await caught(client.getAccessToken())) as TesseraError
    expect(first.code).toBe('rate_limited')
    expect(first.retryAfter).toBe(120_000)

    clock.advance(119_000)
    expect(((await caught(client.getAccessToken())) as TesseraError).code).toBe('rate_limited')
    expect(server.calls.refresh).toBe(1)

    clock.advance(1_000)
    await expect(client.getAccessToken()).resolves.toMatch(/\./)
    expect(server.calls.refresh).toBe(2)
  })

  it('waits at most 5 minutes, however long Retry-After says', async () => {
    const { server, client, clock } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh({ status: 503, headers: { 'retry-after': '86400' } })
    expect(((await caught(client.getAccessToken())) as TesseraError).retryAfter).toBe(86_400_000)

    clock.advance(299_000)
    await caught(client.getAccessToken())
    expect(server.calls.refresh).toBe(1)
    clock.advance(1_000)
    await expect(client.getAccessToken()).resolves.toMatch(/\./)
    expect(server.calls.refresh).toBe(2)
  })

  it('reads an HTTP-date Retry-After against the server Date header, not the device clock', async () => {
    const { server, client, clock } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    const serverDate = Date.parse('2030-01-01T00:00:00Z') // far from the device clock
    server.failNextRefresh({
      status: 503,
      headers: {
        date: new Date(serverDate).toUTCString(),
        'retry-after': new Date(serverDate + 45_000).toUTCString(),
      },
    })

    expect(((await caught(client.getAccessToken())) as TesseraError).retryAfter).toBe(45_000)
  })

  it('lets an explicit refresh() through a backoff', async () => {
    const { server, client, clock } = setup()
    await client.login(CREDENTIALS)
    clock.advance(301_000)
    server.failNextRefresh({ status: 429, headers: { 'retry-after': '600' } })
    await caught(client.getAccessToken())

    const session = await client.refresh()
    expect(session.refreshToken).toBe(server.currentRefresh)
    expect(server.calls.refresh).toBe(2)
  })

  it('shares one request among concurrent refresh() calls', async () => {
    const { server, client } = setup({}, { refreshLatency: 5 })
    await client.login(CREDENTIALS)

    const sessions = await Promise.all([client.refresh(), client.refresh(), client.refresh()])

    expect(new Set(sessions.map((session) => session.refreshToken)).size).toBe(1)
    expect(server.calls.refresh).toBe(1)
  })

  it('starts a new refresh when a refreshed listener calls refresh()', async () => {
    const { server, client } = setup()
    await client.login(CREDENTIALS)
    let again: Promise<unknown> | undefined
    client.onAuthChange((event) => {
      if (event.type === 'refreshed' && !again) again = client.refresh()
    })

    const first = await client.refresh()
    const second = (await again) as { refreshToken: string }

    expect(second.refreshToken).not.toBe(first.refreshToken)
    expect(server.calls.refreshTokensPresented).toEqual(['r1', first.refreshToken])
  })

  it('rejects refresh() with not_signed_in when no one is signed in', async () => {
    const { client, server } = setup()
    expect(((await caught(client.refresh())) as TesseraError).code).toBe('not_signed_in')
    expect(server.calls.refresh).toBe(0)
  })
})
