import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, createMemoryStorage, type StorageAdapter } from '../src/index.ts'
import { AUTH_URL, createChannelHub, createFakeLocks, createFakeServer } from './fake-server.ts'
import { CREDENTIALS, track } from './helpers.ts'

afterEach(() => {
  vi.useRealTimers()
})

function sharedStorage(): StorageAdapter {
  const memory = createMemoryStorage()
  return { ...memory, shared: true }
}

/**
 * Chromium's localStorage is not strongly consistent between tabs: a write can reach another
 * tab after the Web Lock does. `freeze()` makes this view keep showing what it shows now.
 */
function laggingView(source: StorageAdapter) {
  let frozen: Map<string, string | null> | null = null
  const view: StorageAdapter = {
    getItem: async (key) => (frozen?.has(key) ? (frozen.get(key) ?? null) : source.getItem(key)),
    setItem: (key, value) => source.setItem(key, value),
    removeItem: (key) => source.removeItem(key),
    shared: true,
  }
  return {
    view,
    async freeze(key: string) {
      frozen = new Map([[key, await source.getItem(key)]])
    },
  }
}

/** Two tabs of one origin: one localStorage (B's view of it can lag), one lock manager, one hub. */
function twoTabs(
  options: { lockTimeout?: number; refreshLatency?: number; slowRemoval?: number } = {},
) {
  const server = createFakeServer({ refreshLatency: options.refreshLatency ?? 0 })
  const memory = sharedStorage()
  const storage: StorageAdapter = options.slowRemoval
    ? {
        ...memory,
        removeItem: async (key) => {
          await new Promise((resolve) => setTimeout(resolve, options.slowRemoval))
          await memory.removeItem(key)
        },
      }
    : memory
  const viewOfB = laggingView(storage)
  const locks = createFakeLocks()
  const hub = createChannelHub()
  let time = 1_700_000_000_000
  const clock = {
    now: () => time,
    advance(ms: number) {
      time += ms
    },
  }
  const tab = (view: StorageAdapter) =>
    track(
      createClient({
        authUrl: AUTH_URL,
        fetch: server.fetch,
        storage: view,
        locks,
        channel: hub.join(),
        now: clock.now,
        autoRefresh: false,
        ...(options.lockTimeout === undefined ? {} : { lockTimeout: options.lockTimeout }),
      }),
    )
  return {
    server,
    storage,
    locks,
    clock,
    a: tab(storage),
    b: tab(viewOfB.view),
    freezeViewOfB: () => viewOfB.freeze('tessera.session'),
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('cross-tab refresh', () => {
  it('shares one refresh between two tabs whose token expired at once', async () => {
    const { server, clock, a, b } = twoTabs({ refreshLatency: 5 })
    await a.client.login(CREDENTIALS)
    await settle()
    expect(await b.client.getSession()).not.toBeNull()
    clock.advance(301_000)

    const [tokenA, tokenB] = await Promise.all([
      a.client.getAccessToken(),
      b.client.getAccessToken(),
    ])

    expect(server.calls.refresh).toBe(1)
    expect(tokenA).toBe(tokenB)
  })

  it('asks for the lock once for 50 concurrent requests in one tab (one shared flight)', async () => {
    const { server, locks, clock, a } = twoTabs({ refreshLatency: 5 })
    await a.client.login(CREDENTIALS)
    const before = locks.requests
    clock.advance(301_000)

    const tokens = await Promise.all(Array.from({ length: 50 }, () => a.client.getAccessToken()))

    expect(new Set(tokens).size).toBe(1)
    expect(locks.requests - before).toBe(1)
    expect(server.calls.refresh).toBe(1)
  })

  it('adopts the session another tab stored instead of spending its own refresh token', async () => {
    const { server, clock, a, b } = twoTabs()
    await a.client.login(CREDENTIALS)
    await settle()
    await b.client.getSession()
    clock.advance(301_000)

    const fresh = await a.client.refresh()
    // b has not heard the broadcast yet; it still holds the old session and finds it due
    const token = await b.client.getAccessToken()

    expect(token).toBe(fresh.accessToken)
    expect(server.calls.refresh).toBe(1)
    expect(server.calls.refreshTokensPresented).toEqual(['r1'])
  })

  it('adopts the announced session when its own view of storage lags behind the lock', async () => {
    const { server, clock, a, b, freezeViewOfB } = twoTabs({ refreshLatency: 5 })
    await a.client.login(CREDENTIALS)
    await settle()
    await b.client.getSession()
    await freezeViewOfB()
    clock.advance(301_000)

    const [tokenA, tokenB] = await Promise.all([
      a.client.getAccessToken(),
      b.client.getAccessToken(),
    ])

    expect(tokenB).toBe(tokenA)
    expect(server.calls.refreshTokensPresented).toEqual(['r1'])
    expect(b.events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
  })

  it('refreshes itself, after a bounded wait, when the tab that held the lock failed', async () => {
    const { server, clock, a, b } = twoTabs({ refreshLatency: 5 })
    await a.client.login(CREDENTIALS)
    await settle()
    await b.client.getSession()
    clock.advance(301_000)
    server.failNextRefresh({ status: 503 })

    const [resultA, tokenB] = await Promise.all([
      a.client.getAccessToken().catch((error: unknown) => error),
      b.client.getAccessToken(),
    ])

    expect(resultA).toMatchObject({ code: 'server_error' })
    expect(tokenB).toBe((await b.client.getSession())?.accessToken)
    expect(server.calls.refresh).toBe(2)
  })

  it('hands a new session to the other tab over the channel', async () => {
    const { a, b } = twoTabs()
    await a.client.login(CREDENTIALS)
    await settle()
    expect(b.events).toEqual([{ type: 'signed_in', session: await a.client.getSession() }])

    const fresh = await a.client.refresh()
    await settle()

    expect(b.events.at(-1)).toEqual({ type: 'refreshed', session: fresh })
    expect((await b.client.getSession())?.accessToken).toBe(fresh.accessToken)
  })

  it('signs the other tab out on logout', async () => {
    const { a, b } = twoTabs()
    await a.client.login(CREDENTIALS)
    await settle()

    await a.client.logout()
    await settle()

    expect(b.events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(await b.client.getSession()).toBeNull()
  })

  it('gives up waiting for a stuck lock after lockTimeout, listens for news, and refreshes anyway', async () => {
    vi.useFakeTimers()
    const { server, locks, clock, a } = twoTabs({ lockTimeout: 3_000 })
    await a.client.login(CREDENTIALS)
    const release = locks.holdForever('tessera.session:refresh')
    clock.advance(301_000)

    let token: string | undefined
    const pending = a.client.getAccessToken().then((value) => {
      token = value
    })
    // 3 s for the lock, then 0.5 s for the holder's news
    await vi.advanceTimersByTimeAsync(3_499)
    expect(server.calls.refresh).toBe(0)
    expect(token).toBeUndefined()

    await vi.advanceTimersByTimeAsync(1)
    await pending
    expect(server.calls.refresh).toBe(1)
    expect(token).toBe((await a.client.getSession())?.accessToken)
    release()
  })

  it('runs no listener while the lock is held', async () => {
    const { locks, a, b } = twoTabs()
    const heldDuringEvents: number[] = []
    a.client.onAuthChange(() => heldDuringEvents.push(locks.held))
    b.client.onAuthChange(() => heldDuringEvents.push(locks.held))

    await a.client.login(CREDENTIALS)
    await a.client.refresh()
    await settle()
    await a.client.logout()
    await settle()

    expect(heldDuringEvents.length).toBeGreaterThanOrEqual(6)
    expect(heldDuringEvents.every((held) => held === 0)).toBe(true)
  })

  it('does not take a shared storage emptied without a sign-out message for a sign-out', async () => {
    const { storage, clock, a, server } = twoTabs()
    await a.client.login(CREDENTIALS)
    await storage.removeItem('tessera.session')
    clock.advance(301_000)

    await expect(a.client.getAccessToken()).resolves.toMatch(/\./)
    expect(a.events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
    expect(server.calls.refreshTokensPresented).toEqual(['r1'])
  })

  it('signs out, without spending its token, when it heard another tab sign out', async () => {
    const { clock, locks, a, b, server } = twoTabs({ slowRemoval: 5 })
    await a.client.login(CREDENTIALS)
    await settle()
    await b.client.getSession()
    clock.advance(301_000)

    // a holds the lock while it signs out; b's refresh waits for it, then finds the news.
    const logout = a.client.logout()
    while (locks.held === 0) await Promise.resolve()
    const result = await b.client.getAccessToken().catch((error: unknown) => error)
    await logout

    expect(result).toMatchObject({ code: 'not_signed_in' })
    expect(b.events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(server.calls.refresh).toBe(0)
  })
})

describe('shared storage that fails to save', () => {
  // Quota exceeded, Safari's private mode: setItem throws, reads still work.
  function failingWrites(source: StorageAdapter, failing: { on: boolean }): StorageAdapter {
    return {
      getItem: (key) => source.getItem(key),
      setItem: (key, value) => {
        if (failing.on) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
        return source.setItem(key, value)
      },
      removeItem: (key) => source.removeItem(key),
      shared: true,
    }
  }

  function tab(storage: StorageAdapter) {
    const server = createFakeServer()
    let time = 1_700_000_000_000
    const { client, events } = track(
      createClient({
        authUrl: AUTH_URL,
        fetch: server.fetch,
        storage,
        locks: createFakeLocks(),
        channel: createChannelHub().join(),
        now: () => time,
        autoRefresh: false,
      }),
    )
    return {
      server,
      client,
      events,
      advance: (ms: number) => {
        time += ms
      },
    }
  }

  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('keeps the rotated session instead of going back to the spent token left in storage', async () => {
    const failing = { on: false }
    const { server, client, events, advance } = tab(failingWrites(sharedStorage(), failing))
    await client.login(CREDENTIALS)
    failing.on = true

    const rotated = await client.refresh()
    advance(30_000) // past the server's grace window: spending r1 again would end the session
    const again = await client.refresh()

    expect(server.calls.refreshTokensPresented).toEqual(['r1', rotated.refreshToken])
    expect(again.refreshToken).toBe(server.currentRefresh)
    expect(server.ended).toBeNull()
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed', 'refreshed'])
  })

  it('reports the failed writes only after the lock is let go', async () => {
    const locks = createFakeLocks()
    const heldWhenReported: number[] = []
    vi.mocked(console.error).mockImplementation(() => heldWhenReported.push(locks.held))
    const server = createFakeServer()
    const { client } = track(
      createClient({
        authUrl: AUTH_URL,
        fetch: server.fetch,
        storage: failingWrites(sharedStorage(), { on: true }),
        locks,
        channel: createChannelHub().join(),
        autoRefresh: false,
      }),
    )

    await client.login(CREDENTIALS)
    await client.refresh()

    expect(heldWhenReported).toEqual([0, 0])
  })

  it('keeps the session when the write at login failed, instead of signing out', async () => {
    const { server, client, events, advance } = tab(failingWrites(sharedStorage(), { on: true }))
    await client.login(CREDENTIALS)
    advance(301_000)

    await expect(client.getAccessToken()).resolves.toMatch(/\./)
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
    expect(server.calls.refreshTokensPresented).toEqual(['r1'])
  })
})

describe('a duplicated tab (per-tab storage, one session)', () => {
  /**
   * sessionStorage is copied when a tab is duplicated or opens another with `window.open`: two
   * tabs, each with its own storage, hold the same session. One lock manager, one channel hub.
   */
  async function duplicated(options: { refreshLatency?: number } = {}) {
    const server = createFakeServer({ refreshLatency: options.refreshLatency ?? 0 })
    const locks = createFakeLocks()
    const hub = createChannelHub()
    let time = 1_700_000_000_000
    const clock = {
      now: () => time,
      advance(ms: number) {
        time += ms
      },
    }
    const tab = (storage: StorageAdapter) =>
      track(
        createClient({
          authUrl: AUTH_URL,
          fetch: server.fetch,
          storage,
          locks,
          channel: hub.join(),
          now: clock.now,
          autoRefresh: false,
        }),
      )
    const storageOfA = createMemoryStorage()
    const a = tab(storageOfA)
    await a.client.login(CREDENTIALS)
    const storageOfB = createMemoryStorage()
    await storageOfB.setItem('tessera.session', (await storageOfA.getItem('tessera.session')) ?? '')
    const b = tab(storageOfB)
    await b.client.getSession()
    return { server, locks, hub, clock, tab, a, b, storageOfB }
  }

  it('takes the successor its twin refreshed to, instead of spending the same token later', async () => {
    const { server, clock, a, b, storageOfB } = await duplicated()

    const fresh = await a.client.refresh()
    await settle()
    clock.advance(60_000) // far past the grace window
    const again = await b.client.refresh()

    expect(server.calls.refreshTokensPresented).toEqual(['r1', fresh.refreshToken])
    expect(server.ended).toBeNull()
    expect(again.refreshToken).toBe(server.currentRefresh)
    expect(b.events.map((event) => event.type)).toEqual(['refreshed', 'refreshed'])
    // b's own storage has the successor too: a reload of b does not bring back r1
    expect(await storageOfB.getItem('tessera.session')).toContain(again.refreshToken)
  })

  it('shares one refresh with its twin when both find the token due at once', async () => {
    const { server, clock, a, b, storageOfB } = await duplicated({ refreshLatency: 5 })
    clock.advance(301_000)

    const [tokenA, tokenB] = await Promise.all([
      a.client.getAccessToken(),
      b.client.getAccessToken(),
    ])
    await settle()

    expect(server.calls.refresh).toBe(1)
    expect(tokenB).toBe(tokenA)
    expect(await storageOfB.getItem('tessera.session')).toContain(server.currentRefresh)
  })

  it('signs its twin out on logout, and leaves tabs with sessions of their own alone', async () => {
    const { server, tab, a, b } = await duplicated()
    const other = tab(createMemoryStorage())
    await other.client.login(CREDENTIALS)
    await a.client.refresh()
    await settle()

    await a.client.logout()
    await settle()

    expect(b.events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(await b.client.getSession()).toBeNull()
    expect(other.events.map((event) => event.type)).toEqual(['signed_in'])
    expect(await other.client.getAccessToken()).toMatch(/\./)
    expect(server.calls.refreshTokensPresented).toEqual(['r1'])
  })
})
