// An in-memory Tessera auth server and resource server behind a fake `fetch`, with a clock of
// its own: enough of the HTTP contract to drive the client, and counters to assert on.

export const AUTH_URL = 'http://auth.test'
export const API_URL = 'http://api.test'

type Scripted = { status: number; body?: unknown; headers?: Record<string, string> } | 'network'

export interface FakeServerOptions {
  /** Access-token lifetime in seconds. */
  lifetime?: number
  /** The server's clock in ms; the device's may differ. */
  serverNow?: () => number
  /** Leave `expires_in` out of token responses (the client must use `exp - iat`). */
  omitExpiresIn?: boolean
  /** Ms every refresh takes to answer. */
  refreshLatency?: number
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

export function createFakeServer(options: FakeServerOptions = {}) {
  const lifetime = options.lifetime ?? 300
  const serverNow = options.serverNow ?? (() => Date.now())
  const scripted: Scripted[] = []
  const validAccess = new Set<string>()
  // refresh token → the successor it was rotated to (kept for the grace-window replay)
  const rotated = new Map<string, string>()
  let currentRefresh: string | null = null
  let counter = 0

  const calls = {
    login: 0,
    refresh: 0,
    revoke: 0,
    endAll: 0,
    restricted: 0,
    bearers: [] as string[],
    refreshTokensPresented: [] as string[],
  }

  function issue(scope = 'notes:read notes:write') {
    counter += 1
    const iat = Math.floor(serverNow() / 1000)
    const access = [
      base64url({ alg: 'none', typ: 'at+jwt' }),
      base64url({
        iss: AUTH_URL,
        aud: 'tessera',
        sub: '42',
        exp: iat + lifetime,
        iat,
        jti: `a${counter}`,
        sid: 's1',
        scope,
        token_type: 'access',
        username: 'ada',
      }),
      'sig',
    ].join('.')
    const refresh = `r${counter}`
    validAccess.add(access)
    currentRefresh = refresh
    return {
      access_token: access,
      token_type: 'Bearer',
      ...(options.omitExpiresIn ? {} : { expires_in: lifetime }),
      refresh_token: refresh,
      scope,
    }
  }

  function accessFrom(request: Request): string | null {
    const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null
    if (token) calls.bearers.push(token)
    return token && validAccess.has(token) ? token : null
  }

  const invalidToken = () =>
    json(
      401,
      { detail: 'Given token not valid for any token type', code: 'token_not_valid' },
      { 'www-authenticate': 'Bearer error="invalid_token"' },
    )

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const route = `${request.method} ${url.origin}${url.pathname}`
    switch (route) {
      case `POST ${AUTH_URL}/oauth/token`: {
        const form = new URLSearchParams(await request.text())
        if (form.get('grant_type') === 'password') {
          calls.login += 1
          if (form.get('password') !== 'correct horse') {
            return json(400, { error: 'invalid_grant', error_description: 'Bad credentials' })
          }
          return json(200, issue(form.get('scope') ?? undefined), { 'cache-control': 'no-store' })
        }
        calls.refresh += 1
        const presented = form.get('refresh_token') ?? ''
        calls.refreshTokensPresented.push(presented)
        if (options.refreshLatency) {
          await new Promise((resolve) => setTimeout(resolve, options.refreshLatency))
        }
        const next = scripted.shift()
        if (next === 'network') throw new TypeError('fetch failed')
        if (next) return json(next.status, next.body, next.headers)
        if (presented !== currentRefresh) {
          return json(400, { error: 'invalid_grant', error_description: 'Token is invalid' })
        }
        rotated.set(presented, `r${counter + 1}`)
        return json(200, issue(), { date: new Date(serverNow()).toUTCString() })
      }
      case `POST ${AUTH_URL}/api/token/blacklist/`: {
        calls.revoke += 1
        const { refresh } = (await request.json()) as { refresh: string }
        if (refresh === currentRefresh) currentRefresh = null
        validAccess.clear()
        return json(200, {})
      }
      case `POST ${AUTH_URL}/api/register/`: {
        const body = (await request.json()) as { username: string; password: string }
        if (body.username === 'taken') {
          return json(409, {
            detail: 'A user with that username already exists.',
            code: 'username_taken',
          })
        }
        if (body.password.length < 8) {
          return json(400, { password: ['Ensure this field has at least 8 characters.'] })
        }
        return json(201, { id: '43', username: body.username })
      }
      case `GET ${AUTH_URL}/api/me`: {
        if (!accessFrom(request)) return invalidToken()
        return json(200, {
          id: '42',
          username: 'ada',
          email: null,
          scopes: ['notes:read'],
          session_id: 's1',
          created_at: '2025-01-01T00:00:00.000Z',
        })
      }
      case `DELETE ${AUTH_URL}/api/sessions`: {
        if (!accessFrom(request)) return invalidToken()
        calls.endAll += 1
        currentRefresh = null
        validAccess.clear()
        return json(200, { ended: 2 })
      }
      case `GET ${API_URL}/api/restricted/`: {
        calls.restricted += 1
        if (!accessFrom(request)) return invalidToken()
        return json(200, { message: 'hello ada' })
      }
      case `POST ${API_URL}/api/notes`: {
        calls.restricted += 1
        if (!accessFrom(request)) return invalidToken()
        return json(201, { received: await request.json() })
      }
      case `GET ${API_URL}/api/missing`: {
        return json(404, { detail: 'Not found.', code: 'not_found' })
      }
      default:
        return json(404, { detail: `no route ${route}`, code: 'not_found' })
    }
  }

  const fetch: typeof globalThis.fetch = (input, init) => handle(new Request(input, init))

  return {
    fetch,
    calls,
    /** Answers the next refresh requests with these, in order. */
    failNextRefresh(...responses: Scripted[]) {
      scripted.push(...responses)
    },
    /** Makes every access token issued so far invalid, as if it expired on the server. */
    invalidateAccessTokens() {
      validAccess.clear()
    },
    /** Ends the session on the server: the refresh token is refused from now on. */
    endSession() {
      currentRefresh = null
      validAccess.clear()
    },
    get currentRefresh() {
      return currentRefresh
    },
  }
}

export type FakeServer = ReturnType<typeof createFakeServer>

/**
 * A Web Locks stand-in: FIFO per name, honours `signal` while waiting and `ifAvailable`, and can
 * be held forever.
 */
export function createFakeLocks() {
  const tails = new Map<string, Promise<void>>()
  // holders and waiters per name
  const queued = new Map<string, number>()
  let held = 0
  let requests = 0

  function enqueue(name: string): { ready: Promise<void>; release: () => void } {
    let release = () => {}
    const mine = new Promise<void>((resolve) => {
      release = () => {
        queued.set(name, (queued.get(name) ?? 1) - 1)
        resolve()
      }
    })
    queued.set(name, (queued.get(name) ?? 0) + 1)
    const ready = tails.get(name) ?? Promise.resolve()
    tails.set(
      name,
      ready.then(() => mine),
    )
    return { ready, release }
  }

  return {
    get held() {
      return held
    },
    /** How many times a lock was asked for. */
    get requests() {
      return requests
    },
    /** A frozen tab takes the lock and never lets go (until `release`). */
    holdForever(name: string): () => void {
      const { release } = enqueue(name)
      held += 1
      return () => {
        held -= 1
        release()
      }
    },
    async request<T>(
      name: string,
      options: { signal?: AbortSignal; ifAvailable?: boolean },
      callback: (lock: unknown) => Promise<T> | T,
    ): Promise<T> {
      requests += 1
      if (options.ifAvailable && (queued.get(name) ?? 0) > 0) return callback(null)
      const { ready, release } = enqueue(name)
      const { signal } = options
      try {
        await new Promise<void>((resolve, reject) => {
          if (signal?.aborted) return reject(signal.reason)
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
          ready.then(resolve)
        })
      } catch (error) {
        // A request that gave up leaves its place in the queue.
        ready.then(release)
        throw error
      }
      held += 1
      try {
        return await callback({ name })
      } finally {
        held -= 1
        release()
      }
    },
  }
}

/** BroadcastChannel stand-ins that deliver to every other member of the hub, asynchronously. */
export function createChannelHub() {
  const members = new Set<{ onmessage: ((event: MessageEvent) => void) | null }>()
  return {
    join() {
      const channel = {
        onmessage: null as ((event: MessageEvent) => void) | null,
        postMessage(message: unknown) {
          const data = structuredClone(message)
          for (const member of members) {
            if (member === channel) continue
            queueMicrotask(() => member.onmessage?.(new MessageEvent('message', { data })))
          }
        },
        close() {
          members.delete(channel)
        },
      }
      members.add(channel)
      return channel
    },
  }
}
