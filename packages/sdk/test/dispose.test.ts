import { afterEach, describe, expect, it, vi } from 'vitest'
import { createClient, createMemoryStorage, type TesseraError } from '../src/index.ts'
import {
  API_URL,
  AUTH_URL,
  createChannelHub,
  createFakeLocks,
  createFakeServer,
} from './fake-server.ts'
import { CREDENTIALS, caught, setup, track } from './helpers.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('dispose()', () => {
  it('makes every method reject with disposed', async () => {
    const { client, server } = setup()
    await client.login(CREDENTIALS)
    const api = client.http.extend({ prefixUrl: API_URL })
    client.dispose()

    const calls: Promise<unknown>[] = [
      client.login(CREDENTIALS),
      client.logout(),
      client.refresh(),
      client.getSession(),
      client.getAccessToken(),
      client.getClaims(),
      client.me(),
      client.listSessions(),
      client.register({ username: 'grace', password: 'long enough' }),
      api.get('api/restricted/').json(),
    ]
    const codes = await Promise.all(
      calls.map(async (call) => ((await caught(call)) as TesseraError).code),
    )

    expect(codes).toEqual(Array(calls.length).fill('disposed'))
    expect(server.calls.login).toBe(1)
    expect(server.calls.restricted).toBe(0)
  })

  it('lets a refresh in flight land without posting to the closed channel', async () => {
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {})
    const server = createFakeServer({ refreshLatency: 5 })
    const storage = { ...createMemoryStorage(), shared: true }
    const { client } = track(
      createClient({
        authUrl: AUTH_URL,
        fetch: server.fetch,
        storage,
        locks: createFakeLocks(),
        channel: createChannelHub().join(),
        autoRefresh: false,
      }),
    )
    await client.login(CREDENTIALS)

    const flight = client.refresh()
    client.dispose()
    const session = await flight

    expect(reported).not.toHaveBeenCalled()
    // stored all the same: the next client starts from the new token, not the spent one
    expect(await storage.getItem('tessera.session')).toContain(session.refreshToken)
  })

  it('leaves no timer of its own holding the process open', async () => {
    const timeouts = vi.spyOn(globalThis, 'setTimeout')
    const locks = createFakeLocks()
    const release = locks.holdForever('tessera.session:refresh')
    const { client, clock } = setup({
      storage: { ...createMemoryStorage(), shared: true },
      locks,
      channel: createChannelHub().join(),
      lockTimeout: 20,
      autoRefresh: true,
    })
    await client.login(CREDENTIALS)
    clock.advance(301_000)

    // waits 20 ms for the lock, then 500 ms for news, then refreshes
    await client.getAccessToken()
    release()

    const ours = timeouts.mock.calls
      .map((call, index) => ({ delay: call[1], timer: timeouts.mock.results[index]?.value }))
      .filter(({ delay }) => delay === 20 || delay === 500 || (delay ?? 0) > 60_000)
    expect(ours.map(({ delay }) => delay)).toEqual(expect.arrayContaining([20, 500]))
    for (const { timer } of ours) expect((timer as NodeJS.Timeout).hasRef()).toBe(false)
  })
})
