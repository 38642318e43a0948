import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, createMemoryStorage } from '../src/index.ts'
import { AUTH_URL, createFakeServer, type FakeServerOptions } from './fake-server.ts'
import { CREDENTIALS, track } from './helpers.ts'

const HOUR = 3_600_000
const SERVER_EPOCH = Date.parse('2026-03-01T12:00:00Z')

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/**
 * The device clock is the faked `Date.now` (what the SDK reads by default); the server keeps
 * true time, `skew` behind or ahead of the device.
 */
function start(
  skew: number,
  serverOptions: FakeServerOptions = {},
  retryDelay?: (n: number) => number,
) {
  vi.setSystemTime(SERVER_EPOCH + skew)
  const server = createFakeServer({ serverNow: () => Date.now() - skew, ...serverOptions })
  const { client, events } = track(
    createClient({ authUrl: AUTH_URL, fetch: server.fetch, ...(retryDelay ? { retryDelay } : {}) }),
  )
  return { server, client, events }
}

describe('scheduled refresh', () => {
  it.each([
    ['in sync', 0],
    ['an hour ahead', HOUR],
    ['an hour behind', -HOUR],
  ])('refreshes 30 s before expiry with the device clock %s', async (_name, skew) => {
    const { server, client, events } = start(skew, { lifetime: 300 })
    await client.login(CREDENTIALS)

    await vi.advanceTimersByTimeAsync(269_000)
    expect(server.calls.refresh).toBe(0)

    await vi.advanceTimersByTimeAsync(1_000)
    expect(server.calls.refresh).toBe(1)
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])

    await vi.advanceTimersByTimeAsync(270_000)
    expect(server.calls.refresh).toBe(2)
  })

  it('takes the lifetime from exp - iat when the response has no expires_in', async () => {
    const { server, client } = start(HOUR, { lifetime: 120, omitExpiresIn: true })
    await client.login(CREDENTIALS)

    // a quarter of 120 s is under the 30 s margin
    await vi.advanceTimersByTimeAsync(89_000)
    expect(server.calls.refresh).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(server.calls.refresh).toBe(1)
  })

  it('refreshes short-lived tokens three quarters into their lifetime', async () => {
    const { server, client } = start(0, { lifetime: 2 })
    await client.login(CREDENTIALS)

    await vi.advanceTimersByTimeAsync(1_499)
    expect(server.calls.refresh).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.calls.refresh).toBe(1)
  })

  it('does not refresh early when the token outlives the longest timer delay', async () => {
    const THIRTY_DAYS = 30 * 24 * HOUR
    const { server, client } = start(0, { lifetime: THIRTY_DAYS / 1000 })
    await client.login(CREDENTIALS)

    // setTimeout fires after at most 2^31 - 1 ms (~24.8 days), however long it was asked for
    await vi.advanceTimersByTimeAsync(2 ** 31)
    expect(server.calls.refresh).toBe(0)

    await vi.advanceTimersByTimeAsync(THIRTY_DAYS - 30_000 - 2 ** 31 - 1)
    expect(server.calls.refresh).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.calls.refresh).toBe(1)
  })

  it('retries a failed scheduled refresh with exponential backoff, keeping the session', async () => {
    const { server, client, events } = start(0, { lifetime: 300 }, (n) => 1000 * 2 ** (n - 1))
    server.failNextRefresh({ status: 503 }, { status: 502 }, 'network')
    await client.login(CREDENTIALS)

    await vi.advanceTimersByTimeAsync(270_000)
    expect(server.calls.refresh).toBe(1)
    await vi.advanceTimersByTimeAsync(999)
    expect(server.calls.refresh).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.calls.refresh).toBe(2)
    await vi.advanceTimersByTimeAsync(2_000)
    expect(server.calls.refresh).toBe(3)
    await vi.advanceTimersByTimeAsync(4_000)
    expect(server.calls.refresh).toBe(4)

    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
    expect(await client.getSession()).toMatchObject({ refreshToken: server.currentRefresh })
  })

  it('waits for Retry-After before the next scheduled attempt', async () => {
    const { server, client } = start(0, { lifetime: 300 }, () => 1000)
    server.failNextRefresh({ status: 429, headers: { 'retry-after': '20' } })
    await client.login(CREDENTIALS)

    await vi.advanceTimersByTimeAsync(270_000)
    expect(server.calls.refresh).toBe(1)
    await vi.advanceTimersByTimeAsync(19_999)
    expect(server.calls.refresh).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(server.calls.refresh).toBe(2)
  })

  it('stops when the server ends the session, and signs out once', async () => {
    const { server, client, events } = start(0, { lifetime: 300 })
    await client.login(CREDENTIALS)
    server.endSession()

    await vi.advanceTimersByTimeAsync(270_000)
    await vi.advanceTimersByTimeAsync(600_000)

    expect(server.calls.refresh).toBe(1)
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'session_expired' })
    expect(events.filter((event) => event.type === 'signed_out')).toHaveLength(1)
  })

  it('refreshes a session restored from storage on time, before anything asks for it', async () => {
    vi.setSystemTime(SERVER_EPOCH)
    const server = createFakeServer({ lifetime: 300 })
    const storage = createMemoryStorage()
    const first = createClient({ authUrl: AUTH_URL, fetch: server.fetch, storage })
    await first.login(CREDENTIALS)
    first.dispose()

    const { events } = track(createClient({ authUrl: AUTH_URL, fetch: server.fetch, storage }))
    await vi.advanceTimersByTimeAsync(270_000)

    expect(server.calls.refresh).toBe(1)
    expect(events.map((event) => event.type)).toEqual(['refreshed'])
  })

  it('stops refreshing after dispose()', async () => {
    const { server, client } = start(0, { lifetime: 300 })
    await client.login(CREDENTIALS)
    client.dispose()

    await vi.advanceTimersByTimeAsync(600_000)
    expect(server.calls.refresh).toBe(0)
  })
})
