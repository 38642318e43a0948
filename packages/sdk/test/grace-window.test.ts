import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, createMemoryStorage } from '../src/index.ts'
import { AUTH_URL, createChannelHub, createFakeLocks, createFakeServer } from './fake-server.ts'
import { CREDENTIALS, track } from './helpers.ts'

// The auth server answers the previous refresh token with the same successor for 10 s after a
// rotation; a later repeat ends the session. These tests run on fake timers (Date.now included),
// shared by the client and the fake server.
beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a refresh whose answer is lost', () => {
  it('is repeated at once after its timeout, inside the grace window, and keeps the session', async () => {
    const server = createFakeServer({ lifetime: 300 })
    const { client, events } = track(createClient({ authUrl: AUTH_URL, fetch: server.fetch }))
    await client.login(CREDENTIALS)
    // The server rotates r1 on arrival, but its answer never makes it back.
    server.delayNextRefreshAnswer(60_000)

    await vi.advanceTimersByTimeAsync(270_000) // the scheduled refresh goes out
    await vi.advanceTimersByTimeAsync(4_000) // it times out and is sent again
    await vi.advanceTimersByTimeAsync(60_000)

    expect(server.calls.refreshTokensPresented).toEqual(['r1', 'r1'])
    expect(server.calls.replays).toEqual(['r1'])
    expect(server.ended).toBeNull()
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
    expect((await client.getSession())?.refreshToken).toBe(server.currentRefresh)
  })

  it('gives a caller waiting for the token the repeated refresh’s answer', async () => {
    const server = createFakeServer({ lifetime: 300 })
    const { client } = track(
      createClient({ authUrl: AUTH_URL, fetch: server.fetch, autoRefresh: false }),
    )
    await client.login(CREDENTIALS)
    vi.advanceTimersByTime(301_000)
    server.delayNextRefreshAnswer(60_000)

    const token = client.getAccessToken()
    await vi.advanceTimersByTimeAsync(4_000)

    await expect(token).resolves.toBe((await client.getSession())?.accessToken)
    expect(server.calls.refreshTokensPresented).toEqual(['r1', 'r1'])
    expect(server.ended).toBeNull()
  })

  it('is not repeated past the window: a second timeout is a failure to retry later', async () => {
    const server = createFakeServer({ lifetime: 300 })
    const { client, events } = track(
      createClient({ authUrl: AUTH_URL, fetch: server.fetch, autoRefresh: false }),
    )
    await client.login(CREDENTIALS)
    vi.advanceTimersByTime(280_000)
    server.delayNextRefreshAnswer(60_000, 60_000)

    const token = client.getAccessToken()
    await vi.advanceTimersByTimeAsync(8_000)

    // Not expired yet: the old access token still serves.
    await expect(token).resolves.toMatch(/\./)
    expect(server.calls.refreshTokensPresented).toEqual(['r1', 'r1'])
    expect(events.map((event) => event.type)).toEqual(['signed_in'])
  })
})

describe('a tab that waits out the cross-tab lock', () => {
  it('refreshes inside the grace window of a tab that froze mid-refresh holding the lock', async () => {
    const server = createFakeServer({ lifetime: 300 })
    const storage = { ...createMemoryStorage(), shared: true }
    const locks = createFakeLocks()
    const hub = createChannelHub()
    const { client, events } = track(
      createClient({
        authUrl: AUTH_URL,
        fetch: server.fetch,
        storage,
        locks,
        channel: hub.join(),
        autoRefresh: false,
      }),
    )
    await client.login(CREDENTIALS)
    vi.advanceTimersByTime(301_000)
    // Another tab took the lock, sent r1 (the server rotated it) and froze before it could answer.
    const release = locks.holdForever('tessera.session:refresh')
    await server.fetch(`${AUTH_URL}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r1' }),
    })
    vi.advanceTimersByTime(100)

    const token = client.getAccessToken()
    await vi.advanceTimersByTimeAsync(4_999)
    expect(server.calls.refresh).toBe(1)
    await vi.advanceTimersByTimeAsync(1_000)

    await expect(token).resolves.toMatch(/\./)
    expect(server.calls.replays).toEqual(['r1'])
    expect(server.ended).toBeNull()
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
    release()
  })
})

describe('timeouts', () => {
  it('refuses a lock timeout and refresh timeout that do not fit in the grace window', () => {
    expect(() => createClient({ authUrl: AUTH_URL, lockTimeout: 9_000 })).toThrow(RangeError)
    expect(() => createClient({ authUrl: AUTH_URL, refreshTimeout: 10_000 })).toThrow(RangeError)
    expect(() =>
      createClient({ authUrl: AUTH_URL, refreshReuseGrace: 30_000, lockTimeout: 20_000 }).dispose(),
    ).not.toThrow()
    expect(() =>
      createClient({ authUrl: AUTH_URL, refreshReuseGrace: 0, lockTimeout: 60_000 }).dispose(),
    ).not.toThrow()
  })
})
