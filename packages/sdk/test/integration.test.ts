import { afterAll, describe, expect, it } from 'vitest'
import {
  type AuthChangeEvent,
  createClient,
  createMemoryStorage,
  type StorageAdapter,
  type TesseraClient,
  type TesseraError,
} from '../src/index.ts'
import { ACCESS_TOKEN_LIFETIME_MS as LIFETIME_MS } from './global-setup.ts'
import {
  countingFetch,
  PASSWORD,
  sharedServers,
  sleep,
  startResourceServer,
  uniqueUsername,
} from './servers.ts'

const servers = sharedServers()
const clients: TesseraClient[] = []

afterAll(() => {
  for (const client of clients) client.dispose()
})

function newClient(options: Partial<Parameters<typeof createClient>[0]> = {}) {
  const counter = countingFetch()
  const events: AuthChangeEvent[] = []
  // The resource server listens on another port of 127.0.0.1: another origin, to be named.
  const client = createClient({
    authUrl: servers.authUrl,
    resourceOrigins: [servers.resourceUrl],
    fetch: counter.fetch,
    ...options,
  })
  clients.push(client)
  client.onAuthChange((event) => events.push(event))
  const api = client.http.extend({ prefixUrl: servers.resourceUrl })
  return { client, api, events, refreshes: counter.refreshes }
}

async function signedIn(options: Partial<Parameters<typeof createClient>[0]> = {}) {
  const username = uniqueUsername()
  const setup = newClient(options)
  await setup.client.register({ username, password: PASSWORD })
  await setup.client.login({ username, password: PASSWORD })
  return { ...setup, username }
}

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise
  } catch (error) {
    return error as TesseraError
  }
  throw new Error('expected a rejection')
}

describe('against the real auth and resource servers', () => {
  it('logs in, calls /api/restricted/, and keeps calling after the access token expired', async () => {
    const { api, refreshes, events } = await signedIn({ autoRefresh: false })
    await expect(api.get('api/restricted/').json()).resolves.toHaveProperty('message')

    await sleep(LIFETIME_MS + 200)

    await expect(api.get('api/restricted/').json()).resolves.toHaveProperty('message')
    expect(refreshes()).toBe(1)
    expect(events.map((event) => event.type)).toEqual(['signed_in', 'refreshed'])
  })

  it('refreshes once on a 401 invalid_token and retries the call once', async () => {
    // This resource server's clock runs 11 s ahead: past its 10 s leeway, it refuses a token
    // one second old, long before the client finds it due.
    const ahead = await startResourceServer(servers.authUrl, { clock: () => Date.now() + 11_000 })
    try {
      const { client, refreshes } = await signedIn({
        autoRefresh: false,
        resourceOrigins: [servers.resourceUrl, ahead.url],
      })
      const api = client.http.extend({ prefixUrl: ahead.url })
      await sleep(1_100)

      await expect(api.get('api/restricted/').json()).resolves.toHaveProperty('message')
      expect(refreshes()).toBe(1)
    } finally {
      await ahead.close()
    }
  })

  it('sends no token to a resource server on a port it was not given', async () => {
    const { client, refreshes } = await signedIn({ autoRefresh: false, resourceOrigins: [] })
    const api = client.http.extend({ prefixUrl: servers.resourceUrl })

    const error = await rejection(api.get('api/restricted/').json())

    expect(error).toMatchObject({ code: 'unauthorized', status: 401 })
    expect(refreshes()).toBe(0)
  })

  it('makes one refresh for 20 concurrent calls on an expired token', async () => {
    const { api, refreshes } = await signedIn({ autoRefresh: false })
    await sleep(LIFETIME_MS + 200)

    const results = await Promise.all(
      Array.from({ length: 20 }, () => api.get('api/restricted/').json()),
    )

    expect(results).toHaveLength(20)
    expect(refreshes()).toBe(1)
  })

  it('refreshes on its own before expiry, so calls never wait for it', async () => {
    const { api, refreshes, events } = await signedIn()

    await sleep(LIFETIME_MS * 1.5)

    expect(refreshes()).toBeGreaterThanOrEqual(1)
    expect(events.some((event) => event.type === 'refreshed')).toBe(true)
    await expect(api.get('api/restricted/').json()).resolves.toHaveProperty('message')
  })

  it('reads the current user and its sessions', async () => {
    const { client, username } = await signedIn({ autoRefresh: false })

    const me = await client.me()
    const { sessions } = await client.listSessions()
    const claims = await client.getClaims()

    expect(me.username).toBe(username)
    expect(claims?.sub).toBe(me.id)
    expect(claims?.sid).toBe(me.session_id)
    expect(sessions.some((session) => session.current && session.id === me.session_id)).toBe(true)
  })

  it('fails calls with not_signed_in after logout, and the ended session cannot be refreshed', async () => {
    const storage = createMemoryStorage()
    const { client, api } = await signedIn({ autoRefresh: false, storage })
    const copy = await copyOf(storage)

    await client.logout()

    expect((await rejection(api.get('api/restricted/').json())).code).toBe('not_signed_in')
    // Another holder of the same refresh token (a stolen copy) is refused for good.
    const thief = newClient({ autoRefresh: false, storage: copy })
    expect((await rejection(thief.client.refresh())).code).toBe('session_expired')
    expect(thief.events.at(-1)).toEqual({ type: 'signed_out', reason: 'session_expired' })
  })

  it('ends every session of the user with logout({ scope: "all" })', async () => {
    const storage = createMemoryStorage()
    const first = await signedIn({ autoRefresh: false })
    const second = newClient({ autoRefresh: false, storage })
    await second.client.login({ username: first.username, password: PASSWORD })

    await first.client.logout({ scope: 'all' })

    expect((await rejection(second.client.refresh())).code).toBe('session_expired')
    expect(await second.client.getSession()).toBeNull()
  })

  it('rejects a wrong password with invalid_credentials and a taken username with username_taken', async () => {
    const { client, username } = await signedIn({ autoRefresh: false })

    expect((await rejection(client.login({ username, password: 'wrong password!' }))).code).toBe(
      'invalid_credentials',
    )
    expect((await rejection(client.register({ username, password: PASSWORD }))).code).toBe(
      'username_taken',
    )
    expect(
      (await rejection(client.register({ username: uniqueUsername(), password: 'short' }))).code,
    ).toBe('validation_failed')
  })
})

async function copyOf(storage: StorageAdapter): Promise<StorageAdapter> {
  const copy = createMemoryStorage()
  const value = await storage.getItem('tessera.session')
  if (value) await copy.setItem('tessera.session', value)
  return copy
}
