import { describe, expect, it, vi } from 'vitest'
import {
  createClient,
  createMemoryStorage,
  createWebStorage,
  isTesseraError,
  type StorageAdapter,
  type TesseraError,
  TesseraError as TesseraErrorClass,
} from '../src/index.ts'
import { API_URL, AUTH_URL, createFakeServer } from './fake-server.ts'
import { CREDENTIALS, caught, setup, track } from './helpers.ts'

describe('login', () => {
  it('stores the session and announces signed_in', async () => {
    const { client, events, server } = setup()

    const session = await client.login(CREDENTIALS)

    expect(session.refreshToken).toBe(server.currentRefresh)
    expect(session.expiresAt - session.receivedAt).toBe(300_000)
    expect(events).toEqual([{ type: 'signed_in', session }])
    expect(await client.getSession()).toEqual(session)
  })

  it('rejects wrong credentials with invalid_credentials and stays signed out', async () => {
    const { client, events } = setup()

    const error = (await caught(
      client.login({ username: 'ada', password: 'nope' }),
    )) as TesseraError

    expect(isTesseraError(error)).toBe(true)
    expect(error.code).toBe('invalid_credentials')
    expect(error.status).toBe(400)
    expect(events).toEqual([])
    expect(await client.getSession()).toBeNull()
  })

  it('recognises simplejwt-style no_active_account as invalid_credentials', async () => {
    const { client } = setup({
      fetch: async () =>
        Response.json(
          {
            detail: 'No active account found with the given credentials',
            code: 'no_active_account',
          },
          { status: 401 },
        ),
    })
    expect(((await caught(client.login(CREDENTIALS))) as TesseraError).code).toBe(
      'invalid_credentials',
    )
  })

  it('rejects with rate_limited and the wait when throttled', async () => {
    const { client } = setup({
      fetch: async () =>
        Response.json(
          { detail: 'slow down', code: 'throttled' },
          {
            status: 429,
            headers: { 'retry-after': '7' },
          },
        ),
    })

    const error = (await caught(client.login(CREDENTIALS))) as TesseraError

    expect(error.code).toBe('rate_limited')
    expect(error.retryAfter).toBe(7_000)
  })

  it('rejects with network_error, not a raw TypeError, when the server is unreachable', async () => {
    const { client } = setup({
      fetch: async () => {
        throw new TypeError('fetch failed')
      },
    })

    const error = (await caught(client.login(CREDENTIALS))) as TesseraError

    expect(error).toBeInstanceOf(TesseraErrorClass)
    expect(error.code).toBe('network_error')
    expect(error.cause).toBeInstanceOf(TypeError)
  })

  it('rejects a 200 without tokens with invalid_response', async () => {
    const { client } = setup({ fetch: async () => Response.json({ hello: 'world' }) })
    expect(((await caught(client.login(CREDENTIALS))) as TesseraError).code).toBe(
      'invalid_response',
    )
  })

  it('sends the requested scope', async () => {
    const { client } = setup()
    const session = await client.login({ ...CREDENTIALS, scope: 'notes:read' })
    expect(session.scope).toBe('notes:read')
    expect((await client.getClaims())?.scope).toBe('notes:read')
  })
})

describe('register', () => {
  it('returns the new account', async () => {
    const { client } = setup()
    await expect(client.register({ username: 'grace', password: 'long enough' })).resolves.toEqual({
      id: '43',
      username: 'grace',
    })
  })

  it('rejects a taken username with username_taken', async () => {
    const { client } = setup()
    const error = (await caught(
      client.register({ username: 'taken', password: 'long enough' }),
    )) as TesseraError
    expect(error.code).toBe('username_taken')
    expect(error.status).toBe(409)
  })

  it('rejects field errors with validation_failed and keeps them in body', async () => {
    const { client } = setup()
    const error = (await caught(
      client.register({ username: 'grace', password: 'short' }),
    )) as TesseraError
    expect(error.code).toBe('validation_failed')
    expect(error.body).toEqual({ password: ['Ensure this field has at least 8 characters.'] })
  })
})

describe('logout', () => {
  it('revokes this session on the server and announces signed_out', async () => {
    const { client, server, events } = setup()
    await client.login(CREDENTIALS)

    await client.logout()

    expect(server.calls.revoke).toBe(1)
    expect(server.currentRefresh).toBeNull()
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(await client.getSession()).toBeNull()
  })

  it('ends every session with scope all', async () => {
    const { client, server } = setup()
    await client.login(CREDENTIALS)

    await client.logout({ scope: 'all' })

    expect(server.calls.endAll).toBe(1)
    expect(await client.getSession()).toBeNull()
  })

  it('still ends this session when ending all of them fails, then reports why', async () => {
    const { client, server, events } = setup()
    await client.login(CREDENTIALS)
    server.failEndAll({ status: 503, headers: { 'retry-after': '0' } })

    const error = (await caught(client.logout({ scope: 'all' }))) as TesseraError

    expect(error.code).toBe('server_error')
    expect(server.calls.revoke).toBe(1)
    expect(server.ended).toBe('logout')
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(await client.getSession()).toBeNull()
  })

  it('does not revoke this session separately when ending all of them worked', async () => {
    const { client, server } = setup()
    await client.login(CREDENTIALS)

    await client.logout({ scope: 'all' })

    expect(server.calls.endAll).toBe(1)
    expect(server.calls.revoke).toBe(0)
  })

  it('makes authenticated calls fail with not_signed_in, without a request', async () => {
    const { client, server, api } = setup()
    await client.login(CREDENTIALS)
    await client.logout()
    const before = server.calls.restricted

    const error = (await caught(api.get('api/restricted/').json())) as TesseraError

    expect(error.code).toBe('not_signed_in')
    expect(server.calls.restricted).toBe(before)
  })

  it('signs out locally when the server cannot be reached, then reports network_error', async () => {
    const server = createFakeServer()
    let online = true
    const { client, events } = track(
      createClient({
        authUrl: AUTH_URL,
        autoRefresh: false,
        fetch: async (input, init) => {
          if (!online) throw new TypeError('fetch failed')
          return server.fetch(input, init)
        },
      }),
    )
    await client.login(CREDENTIALS)
    online = false

    const error = (await caught(client.logout())) as TesseraError

    expect(error.code).toBe('network_error')
    expect(events.at(-1)).toEqual({ type: 'signed_out', reason: 'logout' })
    expect(await client.getSession()).toBeNull()
  })

  it('resolves quietly when no one is signed in', async () => {
    const { client, server, events } = setup()
    await client.logout()
    expect(server.calls.revoke).toBe(0)
    expect(events).toEqual([])
  })
})

describe('getClaims', () => {
  it('decodes the access token claims', async () => {
    const { client } = setup()
    await client.login(CREDENTIALS)

    const claims = await client.getClaims()

    expect(claims).toMatchObject({ sub: '42', sid: 's1', token_type: 'access', username: 'ada' })
  })

  it('is null when signed out', async () => {
    const { client } = setup()
    expect(await client.getClaims()).toBeNull()
  })
})

describe('me and listSessions', () => {
  it('calls the auth server with the bearer token, refreshing it when refused', async () => {
    const { client, server } = setup()
    await client.login(CREDENTIALS)
    server.invalidateAccessTokens()

    await expect(client.me()).resolves.toMatchObject({ id: '42', username: 'ada' })
    expect(server.calls.refresh).toBe(1)
  })
})

describe('http', () => {
  it('adds the bearer token to resource-server requests', async () => {
    const { client, api, server } = setup()
    const session = await client.login(CREDENTIALS)

    await api.get('api/restricted/').json()

    expect(server.calls.bearers).toEqual([session.accessToken])
  })

  describe('origins', () => {
    // A stand-in for any server: records the Authorization header, refuses with invalid_token.
    function recorder() {
      const seen: (string | null)[] = []
      const fetch: typeof globalThis.fetch = async (input, init) => {
        seen.push(new Request(input, init).headers.get('authorization'))
        return Response.json(
          { detail: 'no', code: 'token_not_valid' },
          { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
        )
      }
      return { seen, fetch }
    }

    it('sends the token to no origin it was not given, however the URL is passed', async () => {
      const { client, server } = setup()
      await client.login(CREDENTIALS)
      const { seen, fetch } = recorder()
      const http = client.http.extend({ fetch })

      const errors = await Promise.all([
        caught(http.get('https://evil.example/steal')),
        caught(http.get(new URL('https://evil.example/steal'))),
        caught(http(new Request('https://evil.example/steal'))),
        caught(http.extend({ prefixUrl: 'https://evil.example' }).get('steal')),
      ])

      expect(seen).toEqual([null, null, null, null])
      // Their 401 invalid_token is theirs: no refresh, no retry.
      expect(errors.map((error) => (error as TesseraError).code)).toEqual(
        Array(4).fill('unauthorized'),
      )
      expect(server.calls.refresh).toBe(0)
    })

    it('tells loopback origins apart by port', async () => {
      const { client } = setup({ resourceOrigins: ['http://127.0.0.1:4001'] })
      const session = await client.login(CREDENTIALS)
      const { seen, fetch } = recorder()
      const http = client.http.extend({ fetch, retry: 0 })

      await caught(http.get('http://127.0.0.1:4002/api/restricted/'))
      await caught(http.get('http://localhost:4001/api/restricted/'))
      await caught(http.get('http://127.0.0.1:4001/api/restricted/'))

      expect(seen).toEqual([null, null, `Bearer ${session.accessToken}`])
    })

    it('sends the token to the auth server and to resourceOrigins, and refreshes on their 401', async () => {
      const { client, server, api } = setup()
      await client.login(CREDENTIALS)
      server.invalidateAccessTokens()

      await expect(api.get('api/restricted/').json()).resolves.toEqual({ message: 'hello ada' })
      await expect(client.http.get(`${AUTH_URL}/api/me`).json()).resolves.toMatchObject({
        id: '42',
      })
      expect(server.calls.refresh).toBe(1)
    })

    it('refuses a resource origin that is not an http(s) URL', () => {
      expect(() =>
        createClient({ authUrl: AUTH_URL, resourceOrigins: ['api.example.com'] }),
      ).toThrow(TypeError)
    })
  })

  it('turns an HTTP error into a TesseraError with status and body', async () => {
    const { client, api } = setup()
    await client.login(CREDENTIALS)

    const error = (await caught(api.get('api/missing').json())) as TesseraError

    expect(error).toBeInstanceOf(TesseraErrorClass)
    expect(error.code).toBe('http_error')
    expect(error.status).toBe(404)
    expect(error.body).toEqual({ detail: 'Not found.', code: 'not_found' })
    expect(error.message).toBe('Not found.')
  })

  it('turns errors awaited on the response promise itself into TesseraErrors', async () => {
    const { client, api } = setup()
    await client.login(CREDENTIALS)
    expect(((await caught(api.get('api/missing'))) as TesseraError).code).toBe('http_error')
  })

  it('turns a network failure into network_error after ky’s own retries', async () => {
    const { client } = setup()
    await client.login(CREDENTIALS)
    let attempts = 0
    const api = client.http.extend({
      prefixUrl: API_URL,
      retry: { limit: 1, delay: () => 0 },
      fetch: async () => {
        attempts += 1
        throw new TypeError('fetch failed')
      },
    })

    expect(((await caught(api.get('api/restricted/').json())) as TesseraError).code).toBe(
      'network_error',
    )
    expect(attempts).toBe(2)
  })
})

describe('storage', () => {
  it('restores a stored session when the client starts', async () => {
    const storage = createMemoryStorage()
    const server = createFakeServer()
    const first = track(createClient({ authUrl: AUTH_URL, fetch: server.fetch, storage })).client
    const session = await first.login(CREDENTIALS)
    first.dispose()

    const second = track(createClient({ authUrl: AUTH_URL, fetch: server.fetch, storage })).client

    expect(await second.getSession()).toEqual(session)
  })

  it('keeps the rotated session when storage fails to save it', async () => {
    const memory = createMemoryStorage()
    let broken = false
    const storage = {
      ...memory,
      setItem: (key: string, value: string) => {
        if (broken) throw new Error('disk full')
        return memory.setItem(key, value)
      },
    }
    const { client, server } = setup({ storage })
    await client.login(CREDENTIALS)
    broken = true
    const originalError = console.error
    const reported: unknown[] = []
    console.error = (error: unknown) => reported.push(error)

    try {
      const rotated = await client.refresh()
      const again = await client.refresh()

      expect(again.refreshToken).not.toBe(rotated.refreshToken)
      expect(server.calls.refreshTokensPresented).toEqual(['r1', 'r2'])
      expect(reported).toHaveLength(2)
    } finally {
      console.error = originalError
    }
  })

  it('treats unreadable stored data as signed out', async () => {
    const storage = createMemoryStorage()
    await storage.setItem('tessera.session', '{not json')
    const { client } = setup({ storage })
    expect(await client.getSession()).toBeNull()
  })

  it('works with a Web Storage object and with an async adapter', async () => {
    const items = new Map<string, string>()
    const webStorage = createWebStorage({
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) => void items.set(key, value),
      removeItem: (key) => void items.delete(key),
    })
    const { client } = setup({ storage: webStorage, storageKey: 'app' })
    await client.login(CREDENTIALS)
    expect(JSON.parse(items.get('app') ?? '{}')).toMatchObject({ v: 1, tokenType: 'Bearer' })

    const asyncItems = new Map<string, string>()
    const asyncStorage = {
      getItem: async (key: string) => asyncItems.get(key) ?? null,
      setItem: async (key: string, value: string) => void asyncItems.set(key, value),
      removeItem: async (key: string) => void asyncItems.delete(key),
    }
    const other = setup({ storage: asyncStorage })
    await other.client.login(CREDENTIALS)
    await other.client.logout()
    expect(asyncItems.size).toBe(0)
  })
})

describe('onAuthChange', () => {
  it('stops calling a listener after unsubscribe, and survives a listener that throws', async () => {
    const { client } = setup()
    const seen: string[] = []
    const unsubscribe = client.onAuthChange((event) => seen.push(event.type))
    const originalError = console.error
    console.error = () => {}
    client.onAuthChange(() => {
      throw new Error('listener bug')
    })

    try {
      await client.login(CREDENTIALS)
      unsubscribe()
      await client.logout()
    } finally {
      console.error = originalError
    }

    expect(seen).toEqual(['signed_in'])
  })
})

describe('errors that are not TesseraErrors', () => {
  function unreadable(options: { shared?: boolean } = {}) {
    const memory = createMemoryStorage()
    const state = { broken: true }
    const storage: StorageAdapter = {
      getItem: (key) => {
        // What Safari and sandboxed iframes throw when storage is off limits
        if (state.broken) throw new DOMException('The operation is insecure.', 'SecurityError')
        return memory.getItem(key)
      },
      setItem: (key, value) => memory.setItem(key, value),
      removeItem: (key) => memory.removeItem(key),
      shared: options.shared ?? false,
    }
    return { storage, state }
  }

  it('rejects with storage_error, not a raw DOMException, when the storage cannot be read', async () => {
    const { storage } = unreadable()
    const { client, server } = setup({ storage })

    for (const promise of [
      client.getSession(),
      client.getAccessToken(),
      client.refresh(),
      client.getClaims(),
      client.logout(),
    ]) {
      const error = (await caught(promise)) as TesseraError
      expect(error).toBeInstanceOf(TesseraErrorClass)
      expect(error.code).toBe('storage_error')
      expect(error.cause).toBeInstanceOf(DOMException)
    }
    expect(server.calls.refresh).toBe(0)
  })

  it('keeps refreshing from memory when shared storage becomes unreadable', async () => {
    const { storage, state } = unreadable({ shared: true })
    state.broken = false
    const { client, server } = setup({ storage, locks: null, channel: null })
    await client.login(CREDENTIALS)
    state.broken = true
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})

    try {
      const session = await client.refresh()
      expect(session.refreshToken).toBe(server.currentRefresh)
      expect(server.calls.refreshTokensPresented).toEqual(['r1'])
      expect(spy).toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })

  it('lets getClaims be called on its own, destructured from the client', async () => {
    const { client } = setup()
    await client.login(CREDENTIALS)
    const { getClaims } = client

    await expect(getClaims()).resolves.toMatchObject({ sub: '42' })
  })

  it('rejects a request ky cannot build with invalid_request instead of throwing at once', async () => {
    const { client, api } = setup()
    await client.login(CREDENTIALS)

    let promise: Promise<unknown> | undefined
    expect(() => {
      promise = api.get('/api/restricted/') // a leading slash with prefixUrl
    }).not.toThrow()
    const error = (await caught(promise as Promise<unknown>)) as TesseraError
    expect(error).toBeInstanceOf(TesseraErrorClass)
    expect(error.code).toBe('invalid_request')
    expect(((await caught(api.get('/x').json())) as TesseraError).code).toBe('invalid_request')
  })

  it('rejects a 200 whose body is not JSON with invalid_response', async () => {
    const { client } = setup()
    await client.login(CREDENTIALS)
    const api = client.http.extend({
      prefixUrl: API_URL,
      fetch: async () =>
        new Response('<html>Gateway says hi</html>', {
          headers: { 'content-type': 'text/html' },
        }),
    })

    const error = (await caught(api.get('api/restricted/').json())) as TesseraError

    expect(error.code).toBe('invalid_response')
    expect(error.cause).toBeInstanceOf(SyntaxError)
  })
})

describe('isTesseraError', () => {
  it('recognises TesseraErrors, also from another copy of the SDK', () => {
    expect(isTesseraError(new TesseraErrorClass('timeout', 'slow'))).toBe(true)
    expect(isTesseraError({ name: 'TesseraError', code: 'timeout', message: 'x' })).toBe(true)
    expect(isTesseraError(new Error('plain'))).toBe(false)
    expect(isTesseraError(null)).toBe(false)
  })
})
