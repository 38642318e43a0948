// An in-memory Tessera auth server and resource server behind a fake `fetch`, with a clock of
// its own: enough of the HTTP contract to drive the client, and counters to assert on. Refresh
// tokens rotate as the real server's do (apps/auth-server/src/services/sessions.ts): the previous
// token presented again within the grace window gets the same successor; any other reuse ends
// the session.

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
  /** Ms every refresh takes to arrive; the token is rotated after it. */
  refreshLatency?: number
  /** REFRESH_REUSE_GRACE_SECONDS, in ms (0 turns the replay off). Default 10 000. */
  grace?: number
}

interface FakeSession {
  sid: string
  /** The refresh token in force. */
  current: string
  /** The one it replaced, replayable within the grace window. */
  previous: string | null
  rotatedAt: number
  ended: 'logout' | 'reuse' | null
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

/** Resolves after `ms`, or rejects as fetch does when the request is aborted first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}

export function createFakeServer(options: FakeServerOptions = {}) {
  const lifetime = options.lifetime ?? 300
  const serverNow = options.serverNow ?? (() => Date.now())
  const grace = options.grace ?? 10_000
  const scripted: Scripted[] = []
  const answerDelays: number[] = []
  const sessions = new Map<string, FakeSession>()
  // refresh token → its session, for every token ever issued
  const refreshTokens = new Map<string, FakeSession>()
  // access token → session id, while the token is valid
  const validAccess = new Map<string, string>()
  let latest: FakeSession | null = null
  let accessCounter = 0
  let refreshCounter = 0
  let failEndAll: Scripted | null = null

  const calls = {
    login: 0,
    refresh: 0,
    revoke: 0,
    endAll: 0,
    restricted: 0,
    bearers: [] as string[],
    refreshTokensPresented: [] as string[],
    /** Refresh tokens presented after they were rotated away, outside the grace window. */
    reuses: [] as string[],
    /** Refresh tokens answered with the same successor, inside the grace window. */
    replays: [] as string[],
  }

  function accessToken(session: FakeSession, scope: string): string {
    accessCounter += 1
    const iat = Math.floor(serverNow() / 1000)
    const access = [
      base64url({ alg: 'none', typ: 'at+jwt' }),
      base64url({
        iss: AUTH_URL,
        aud: 'tessera',
        sub: '42',
        exp: iat + lifetime,
        iat,
        jti: `a${accessCounter}`,
        sid: session.sid,
        scope,
        token_type: 'access',
        username: 'ada',
      }),
      'sig',
    ].join('.')
    validAccess.set(access, session.sid)
    return access
  }

  function tokenResponse(session: FakeSession, scope = 'notes:read notes:write') {
    return {
      access_token: accessToken(session, scope),
      token_type: 'Bearer',
      ...(options.omitExpiresIn ? {} : { expires_in: lifetime }),
      refresh_token: session.current,
      scope,
    }
  }

  function newRefreshToken(session: FakeSession): string {
    refreshCounter += 1
    const token = `r${refreshCounter}`
    refreshTokens.set(token, session)
    return token
  }

  function login(scope?: string) {
    const session: FakeSession = {
      sid: `s${sessions.size + 1}`,
      current: '',
      previous: null,
      rotatedAt: serverNow(),
      ended: null,
    }
    session.current = newRefreshToken(session)
    sessions.set(session.sid, session)
    latest = session
    return tokenResponse(session, scope)
  }

  function end(session: FakeSession, why: 'logout' | 'reuse'): void {
    session.ended ??= why
    for (const [token, sid] of validAccess) if (sid === session.sid) validAccess.delete(token)
  }

  /** The real rotation: in force → rotate; previous within the grace window → same successor. */
  function rotate(presented: string): FakeSession | null {
    const session = refreshTokens.get(presented)
    if (!session || session.ended) return null
    if (presented === session.current) {
      session.previous = presented
      session.current = newRefreshToken(session)
      session.rotatedAt = serverNow()
      return session
    }
    if (presented === session.previous && grace > 0 && serverNow() - session.rotatedAt <= grace) {
      calls.replays.push(presented)
      return session
    }
    calls.reuses.push(presented)
    end(session, 'reuse')
    return null
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

  const invalidGrant = () =>
    json(400, {
      error: 'invalid_grant',
      error_description: 'The refresh token is invalid, expired or revoked',
    })

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
          return json(200, login(form.get('scope') ?? undefined), { 'cache-control': 'no-store' })
        }
        calls.refresh += 1
        const presented = form.get('refresh_token') ?? ''
        calls.refreshTokensPresented.push(presented)
        if (options.refreshLatency) await delay(options.refreshLatency, request.signal)
        const next = scripted.shift()
        if (next === 'network') throw new TypeError('fetch failed')
        if (next) return json(next.status, next.body, next.headers)
        const session = rotate(presented)
        if (!session) return invalidGrant()
        const answer = tokenResponse(session)
        // The server has rotated; the answer may still be lost on the way back.
        const late = answerDelays.shift()
        if (late) await delay(late, request.signal)
        return json(200, answer, { date: new Date(serverNow()).toUTCString() })
      }
      case `POST ${AUTH_URL}/api/token/blacklist/`: {
        calls.revoke += 1
        const { refresh } = (await request.json()) as { refresh: string }
        const session = refreshTokens.get(refresh)
        if (!session || session.ended) return invalidToken()
        const inGrace =
          refresh === session.previous && grace > 0 && serverNow() - session.rotatedAt <= grace
        if (refresh === session.current || inGrace) {
          end(session, 'logout')
          return json(200, {})
        }
        calls.reuses.push(refresh)
        end(session, 'reuse')
        return invalidToken()
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
        const token = accessFrom(request)
        if (!token) return invalidToken()
        return json(200, {
          id: '42',
          username: 'ada',
          email: null,
          scopes: ['notes:read'],
          session_id: validAccess.get(token),
          created_at: '2025-01-01T00:00:00.000Z',
        })
      }
      case `DELETE ${AUTH_URL}/api/sessions`: {
        if (!accessFrom(request)) return invalidToken()
        calls.endAll += 1
        const failure = failEndAll
        if (failure === 'network') throw new TypeError('fetch failed')
        if (failure) return json(failure.status, failure.body, failure.headers)
        for (const session of sessions.values()) end(session, 'logout')
        return json(200, { ended: sessions.size })
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
    /** Answers the next refresh requests with these, in order, without rotating. */
    failNextRefresh(...responses: Scripted[]) {
      scripted.push(...responses)
    },
    /** Rotates on the next refresh requests but holds each answer back this many ms. */
    delayNextRefreshAnswer(...ms: number[]) {
      answerDelays.push(...ms)
    },
    /** Answers every `DELETE /api/sessions` with this instead of ending the sessions. */
    failEndAll(answer: Scripted | null) {
      failEndAll = answer
    },
    /** Makes every access token issued so far invalid, as if it expired on the server. */
    invalidateAccessTokens() {
      validAccess.clear()
    },
    /** Ends the latest session on the server: its refresh tokens are refused from now on. */
    endSession() {
      if (latest) end(latest, 'logout')
    },
    /** The refresh token in force for the latest session; `null` once that session ended. */
    get currentRefresh(): string | null {
      return latest && !latest.ended ? latest.current : null
    },
    /** Why the latest session ended (`reuse` detected, or `logout`), or `null` while it lives. */
    get ended(): 'logout' | 'reuse' | null {
      return latest?.ended ?? null
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
      let closed = false
      const channel = {
        onmessage: null as ((event: MessageEvent) => void) | null,
        postMessage(message: unknown) {
          // as BroadcastChannel does
          if (closed) throw new DOMException('Channel is closed', 'InvalidStateError')
          const data = structuredClone(message)
          for (const member of members) {
            if (member === channel) continue
            queueMicrotask(() => member.onmessage?.(new MessageEvent('message', { data })))
          }
        },
        close() {
          closed = true
          members.delete(channel)
        },
      }
      members.add(channel)
      return channel
    },
  }
}
