import type { KyInstance } from 'ky'
import { createAuthApi } from './auth-api.ts'
import type {
  AccessTokenClaims,
  MeResponse,
  RegisterRequest,
  RegisterResponse,
  SessionList,
  TokenObtainRequest,
} from './contract.ts'
import {
  type ChannelLike,
  createLockRunner,
  defaultChannel,
  defaultLocks,
  type LockManagerLike,
  parseSyncMessage,
  type SyncMessage,
} from './cross-tab.ts'
import { isTesseraError, TesseraError } from './errors.ts'
import { createAuthenticatedHttp } from './http.ts'
import { toTesseraError } from './responses.ts'
import {
  decodeClaims,
  parseSession,
  refreshDueAt,
  type Session,
  serializeSession,
  sessionIdOf,
} from './session.ts'
import { createMemoryStorage, type StorageAdapter } from './storage.ts'
import { unrefTimer } from './timers.ts'

export type SignOutReason = 'logout' | 'session_expired'

export type AuthChangeEvent =
  | { type: 'signed_in'; session: Session }
  | { type: 'refreshed'; session: Session }
  | { type: 'signed_out'; reason: SignOutReason }

export type AuthChangeListener = (event: AuthChangeEvent) => void

export interface ClientOptions {
  /** Base URL of the Tessera auth server, e.g. `https://auth.example.com`. */
  authUrl: string | URL
  /**
   * Origins of the resource servers that get the access token (`https://api.example.com`; on
   * loopback the port counts). The auth server's origin always does; no other does, and a 401
   * from elsewhere triggers no refresh. `http.extend({ prefixUrl })` does not add its origin.
   */
  resourceOrigins?: readonly (string | URL)[]
  /** Where the session is kept; memory by default. */
  storage?: StorageAdapter
  /** Storage key; also names the cross-tab lock and channel. Default `tessera.session`. */
  storageKey?: string
  fetch?: typeof globalThis.fetch
  /** The device clock in ms (default `Date.now`); only ever compared with itself. */
  now?: () => number
  /** Refresh on a timer before expiry (default true). Without it, refresh happens on use. */
  autoRefresh?: boolean
  /** Refresh this many ms before expiry, at most a quarter of the lifetime. Default 30 000. */
  refreshMargin?: number
  /** Timeout of each auth-server request in ms, refreshes aside. Default 10 000. */
  timeout?: number
  /**
   * The auth server's refresh-token grace window (`REFRESH_REUSE_GRACE_SECONDS`) in ms. Default
   * 10 000; 0 when the server has it off. A refresh token presented again within it gets the same
   * successor — later, it ends the session — so the timeouts below are sized to fit inside it.
   */
  refreshReuseGrace?: number
  /**
   * Timeout of a refresh in ms. Default 40 % of `refreshReuseGrace`, at most 4 000. A refresh that
   * times out is repeated at once while the repeat can still land inside the grace window: the
   * server may have rotated and only its answer been lost.
   */
  refreshTimeout?: number
  /**
   * Coordinate refreshes with other tabs (default true). With `shared` storage all tabs hold one
   * session: a refresh takes a Web Lock, re-reads storage and announces its result. With per-tab
   * storage (sessionStorage, memory), tabs holding the _same_ session — a duplicated tab, or a
   * `window.open` copy of sessionStorage — refresh it once, under a lock named after the session,
   * and take each other's successors; by default only in browsers (where `document` exists).
   */
  crossTab?: boolean
  /**
   * Longest wait for the cross-tab refresh lock, in ms; a tab then refreshes without it. Default:
   * what `refreshReuseGrace` leaves after `refreshTimeout` (5 000 with the defaults), at most
   * 10 000. `lockTimeout` + `refreshTimeout` + 5 % of the grace window must stay under it.
   */
  lockTimeout?: number
  /** Web Locks implementation; default `navigator.locks` when present. `null`: none. */
  locks?: LockManagerLike | null
  /** Channel announcing new sessions to other tabs; default a `BroadcastChannel`. `null`: none. */
  channel?: ChannelLike | null
  /** Backoff in ms after the n-th failed refresh when the server sent no `Retry-After`. */
  retryDelay?: (attempt: number) => number
}

export interface LogoutOptions {
  /** `session` (default) ends this session; `all` ends every session of the user. */
  scope?: 'session' | 'all'
}

export interface TesseraClient {
  register(request: RegisterRequest): Promise<RegisterResponse>
  login(credentials: TokenObtainRequest): Promise<Session>
  /**
   * Signs out locally even when the server cannot be told; then rejects with why. When ending
   * all sessions fails, this one is still revoked before it rejects.
   */
  logout(options?: LogoutOptions): Promise<void>
  /** Rotates the tokens now; concurrent calls share one request. */
  refresh(): Promise<Session>
  /** The session with a usable access token (refreshed if due), or `null` when signed out. */
  getSession(): Promise<Session | null>
  /** A usable access token; rejects with `not_signed_in` or `session_expired`. */
  getAccessToken(): Promise<string>
  /** The current access token's claims, decoded (not verified), or `null`. */
  getClaims(): Promise<AccessTokenClaims | null>
  me(): Promise<MeResponse>
  listSessions(): Promise<SessionList>
  /** Listens for sign-in, refresh and sign-out, of this tab and of the others; returns `unsubscribe`. */
  onAuthChange(listener: AuthChangeListener): () => void
  /**
   * ky instance that adds the Bearer token to requests for the auth server and `resourceOrigins`,
   * and refreshes on their `invalid_token`; `extend` it.
   */
  readonly http: KyInstance
  /**
   * Stops timers and closes the cross-tab channel. Every method then rejects with `disposed`; a
   * refresh already in flight still stores its result.
   */
  dispose(): void
}

const MAX_TIMER_DELAY = 2 ** 31 - 1
/** Longest wait before refreshing again, whatever `Retry-After` says: a day-long one is a bug. */
const MAX_RETRY_WAIT = 5 * 60_000

interface Timing {
  grace: number
  refreshTimeout: number
  lockTimeout: number
  /** Longest wait, after a contended lock, for the previous holder's news to reach this tab. */
  settle: number
}

/**
 * Timeouts that keep every repeat of a refresh token inside the server's grace window: a tab
 * that waited out the lock (`lockTimeout`), listened for news (`settle`) and then sent the token
 * (arriving within `refreshTimeout`) is still inside it, counted from the earliest moment the
 * lock holder's refresh can have rotated it.
 */
function timingOf(options: ClientOptions): Timing {
  const grace = options.refreshReuseGrace ?? 10_000
  if (!(grace >= 0)) throw new RangeError('refreshReuseGrace must be a number of ms, 0 or more')
  if (grace === 0) {
    // No replay at all: any second use ends the session, so nothing is repeated early.
    return {
      grace,
      refreshTimeout: options.refreshTimeout ?? options.timeout ?? 10_000,
      lockTimeout: options.lockTimeout ?? 10_000,
      settle: 500,
    }
  }
  const settle = Math.min(500, grace * 0.05)
  const slack = grace * 0.05
  const refreshTimeout = options.refreshTimeout ?? Math.min(4_000, Math.floor(grace * 0.4))
  const lockTimeout =
    options.lockTimeout ?? Math.min(10_000, Math.floor(grace - slack - settle - refreshTimeout))
  if (
    !(refreshTimeout > 0) ||
    !(lockTimeout > 0) ||
    lockTimeout + settle + refreshTimeout >= grace
  ) {
    throw new RangeError(
      `lockTimeout (${lockTimeout} ms) + refreshTimeout (${refreshTimeout} ms) + ${settle} ms must stay under refreshReuseGrace (${grace} ms): a refresh token repeated later ends the session`,
    )
  }
  return { grace, refreshTimeout, lockTimeout, settle }
}

function defaultRetryDelay(attempt: number): number {
  return Math.min(60_000, 1000 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
}

function reportNow(error: unknown): void {
  const reportError = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof reportError === 'function') reportError(error)
  else console.error(error)
}

function originOf(url: string | URL, what: string): string {
  let origin: string
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href
    origin = new URL(url, base).origin
  } catch {
    origin = 'null'
  }
  if (origin === 'null') throw new TypeError(`${what} is not an http(s) URL: ${String(url)}`)
  return origin
}

/** Whether a request URL may carry the access token: only to origins the client was given. */
function trustedOrigins(options: ClientOptions): (url: string) => boolean {
  const origins = new Set([
    originOf(options.authUrl, 'authUrl'),
    ...(options.resourceOrigins ?? []).map((origin) => originOf(origin, 'resourceOrigins')),
  ])
  return (url) => {
    try {
      return origins.has(new URL(url).origin)
    } catch {
      return false
    }
  }
}

const disposedError = () => new TesseraError('disposed', 'The client was disposed')

const notSignedIn = () => new TesseraError('not_signed_in', 'No one is signed in')

/** Sessions are told apart by when they arrived: the device clock, shared by every tab. */
function isNewer(candidate: Session, than: Session): boolean {
  return candidate.refreshToken !== than.refreshToken && candidate.receivedAt > than.receivedAt
}

type Outcome = { session: Session | null; error?: TesseraError; event?: AuthChangeEvent }

/**
 * Creates a Tessera client: login and registration, a session that refreshes itself, and an
 * authenticated ky instance for resource servers. Refreshes are single-flight within the client
 * and, with shared storage, across tabs; only a definitive answer from the auth server signs
 * the user out.
 *
 * @example
 * const client = createClient({
 *   authUrl: 'https://auth.example.com',
 *   resourceOrigins: ['https://api.example.com'],
 *   storage: createLocalStorage(),
 * })
 * await client.login({ username: 'ada', password: 'correct horse battery' })
 * const api = client.http.extend({ prefixUrl: 'https://api.example.com' })
 * const { message } = await api.get('api/restricted/').json<{ message: string }>()
 */
export function createClient(options: ClientOptions): TesseraClient {
  const authUrl = String(options.authUrl)
  const now = options.now ?? (() => Date.now())
  const fetch: typeof globalThis.fetch =
    options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const storage = options.storage ?? createMemoryStorage()
  const key = options.storageKey ?? 'tessera.session'
  const margin = options.refreshMargin ?? 30_000
  const autoRefresh = options.autoRefresh ?? true
  const retryDelay = options.retryDelay ?? defaultRetryDelay
  const crossTab = options.crossTab ?? true
  // Shared storage: every tab holds the one session in it. Otherwise each tab has its own, and
  // only tabs holding the same session (a duplicated tab) coordinate, by the session's id.
  const sharedStorage = crossTab && storage.shared === true
  const inBrowser = typeof (globalThis as { document?: unknown }).document === 'object'
  const byDefault = sharedStorage || (crossTab && inBrowser)
  const locks = !crossTab
    ? null
    : options.locks !== undefined
      ? options.locks
      : byDefault
        ? defaultLocks()
        : null
  const channel = !crossTab
    ? null
    : options.channel !== undefined
      ? options.channel
      : byDefault
        ? defaultChannel(`${key}:sync`)
        : null
  const timing = timingOf(options)
  const trusted = trustedOrigins(options)
  const runLocked = createLockRunner(locks, timing.lockTimeout)
  const api = createAuthApi({
    authUrl,
    fetch,
    timeout: options.timeout ?? 10_000,
    refreshTimeout: timing.refreshTimeout,
    now,
  })
  const listeners = new Set<AuthChangeListener>()

  let current: Session | null = null
  let loading: Promise<void> | null = null
  let refreshing: Promise<Session> | null = null
  let queue: Promise<unknown> = Promise.resolve()
  let timer: ReturnType<typeof setTimeout> | undefined
  let failures = 0
  let retryNotBefore = 0
  let lastFailure: TesseraError | null = null
  let disposed = false
  // The latest message from another tab that this client has not applied yet.
  let heard: SyncMessage | null = null
  const newsWaiters = new Set<() => void>()
  let inCritical = false
  const deferredReports: unknown[] = []

  // In-process mutual exclusion: state changes (refresh, login, logout, messages from other
  // tabs) apply one at a time, and events go out only after the section (and lock) is left.
  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task)
    queue = run.catch(() => undefined)
    return run
  }

  function critical<T>(
    session: Session | null,
    task: (lock: { contended: boolean }) => Promise<T>,
  ): Promise<T> {
    return exclusive(async () => {
      inCritical = true
      try {
        return await runLocked(lockName(session), task)
      } finally {
        inCritical = false
        for (const error of deferredReports.splice(0)) reportNow(error)
      }
    })
  }

  /**
   * Storage and channel failures are reported (`reportError`, else `console.error`), never
   * thrown. An app's error handler is user code too: it runs after the lock is let go.
   */
  function report(error: unknown): void {
    if (inCritical) deferredReports.push(error)
    else reportNow(error)
  }

  /** The refresh lock: one per storage when it is shared, else one per server session. */
  function lockName(session: Session | null): string | null {
    if (sharedStorage) return `${key}:refresh`
    const sid = session && sessionIdOf(session)
    return sid ? `${key}:refresh:${sid}` : null
  }

  /**
   * Whether another tab's message is about this client's session. With shared storage, every
   * session message is (another tab may have signed in), and a sign-out unless it names another
   * session. With per-tab storage, only messages about the very session this tab holds are.
   */
  function concernsUs(message: SyncMessage): boolean {
    const ours = current && sessionIdOf(current)
    const theirs = message.type === 'session' ? sessionIdOf(message.session) : message.sid
    if (sharedStorage) return message.type === 'session' || !ours || !theirs || ours === theirs
    return !!ours && ours === theirs
  }

  function signedOutMessage(session: Session | null, reason: SignOutReason): SyncMessage {
    const sid = session && sessionIdOf(session)
    return sid ? { type: 'signed_out', reason, sid } : { type: 'signed_out', reason }
  }

  function emit(event: AuthChangeEvent | undefined): void {
    if (!event) return
    for (const listener of [...listeners]) {
      try {
        listener(event)
      } catch (error) {
        report(error)
      }
    }
  }

  function post(message: SyncMessage): void {
    // A refresh that was in flight at dispose() lands after the channel closed.
    if (disposed) return
    try {
      channel?.postMessage(message)
    } catch (error) {
      report(error)
    }
  }

  function schedule(): void {
    clearTimeout(timer)
    timer = undefined
    if (!current || !autoRefresh || disposed) return
    const session = current
    const at = Math.max(refreshDueAt(session, margin), retryNotBefore)
    timer = setTimeout(
      () => {
        timer = undefined
        // A delay past the timer maximum (~24.8 days) was cut short: wait out the rest.
        if (now() < at) return schedule()
        // The timer is the backoff schedule itself; outcomes reach listeners and the next timer.
        refreshFrom(session, { gated: false }).catch(() => undefined)
      },
      Math.min(MAX_TIMER_DELAY, Math.max(0, at - now())),
    )
    unrefTimer(timer)
  }

  function accept(session: Session | null): void {
    current = session
    heard = null
    failures = 0
    retryNotBefore = 0
    lastFailure = null
    schedule()
  }

  function recordFailure(error: TesseraError): void {
    failures += 1
    retryNotBefore = now() + Math.min(MAX_RETRY_WAIT, error.retryAfter ?? retryDelay(failures))
    lastFailure = error
    schedule()
  }

  async function readStored(): Promise<Session | null> {
    let raw: string | null
    try {
      raw = await storage.getItem(key)
    } catch (error) {
      throw new TesseraError('storage_error', 'The session storage could not be read', {
        cause: error,
      })
    }
    return parseSession(raw)
  }

  /** Storage read for news only: when it fails, the session in memory is still right. */
  function peekStored(): Promise<Session | null> {
    return readStored().catch((error: unknown) => {
      report(error)
      return null
    })
  }

  // Storage failures are reported, never thrown: the session in memory stays right.
  async function persist(session: Session): Promise<void> {
    try {
      await storage.setItem(key, serializeSession(session))
    } catch (error) {
      report(error)
    }
  }

  async function forget(): Promise<void> {
    try {
      await storage.removeItem(key)
    } catch (error) {
      report(error)
    }
  }

  function waitForNews(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timeout)
        newsWaiters.delete(done)
        resolve()
      }
      const timeout = setTimeout(done, timing.settle)
      unrefTimer(timeout)
      newsWaiters.add(done)
    })
  }

  /**
   * What the other tabs know and this one does not: a newer session, in storage or announced,
   * or that they signed out. Storage is believed only when it holds something newer than memory:
   * a write that failed (quota, Safari's private mode) leaves an older session behind, whose
   * refresh token is spent, and an empty slot alone is no sign-out. localStorage is not strongly
   * consistent between tabs either: the lock can reach this tab before the previous holder's
   * write does. The holder announces its result on the channel before it lets go, so a tab that
   * had to wait for the lock and finds nothing newer listens for that news, briefly.
   */
  async function otherTabsNews(
    mine: Session,
    contended: boolean,
  ): Promise<Session | 'signed_out' | null> {
    const look = async (): Promise<Session | 'signed_out' | null> => {
      const news = heard as SyncMessage | null
      if (news?.type === 'signed_out') return 'signed_out'
      const stored = sharedStorage ? await peekStored() : null
      let newest = stored && isNewer(stored, mine) ? stored : null
      if (news?.type === 'session' && isNewer(news.session, newest ?? mine)) newest = news.session
      return newest
    }
    const news = await look()
    if (news || !contended) return news
    await waitForNews()
    return look()
  }

  function ensureLoaded(): Promise<void> {
    loading ??= exclusive(async () => {
      if (!current) accept(await readStored())
    }).catch((error: unknown) => {
      loading = null
      throw error
    })
    return loading
  }

  function adoptionEvent(session: Session): AuthChangeEvent | undefined {
    if (!current) return { type: 'signed_in', session }
    if (current.refreshToken === session.refreshToken) return undefined
    return { type: 'refreshed', session }
  }

  /**
   * One refresh grant, repeated at once after a timeout for as long as the repeat still lands
   * inside the grace window: the server may have rotated and only its answer been lost, and a
   * backoff first would carry the repeat past the window and end the session.
   */
  async function refreshGrant(refreshToken: string): Promise<Session> {
    const started = now()
    for (;;) {
      try {
        return await api.refreshGrant(refreshToken)
      } catch (error) {
        const repeatable =
          isTesseraError(error) &&
          error.code === 'timeout' &&
          now() - started + timing.refreshTimeout < timing.grace
        if (!repeatable) throw error
      }
    }
  }

  function runRefresh(from: Session): Promise<Outcome> {
    return critical(from, async ({ contended }): Promise<Outcome> => {
      const mine = current
      // Signed out, or rotated by an earlier call of this client, while this one waited.
      if (!mine) return { session: null, error: notSignedIn() }
      if (mine.refreshToken !== from.refreshToken) return { session: mine }
      const news = crossTab ? await otherTabsNews(mine, contended) : null
      if (news === 'signed_out') {
        accept(null)
        return {
          session: null,
          error: notSignedIn(),
          event: { type: 'signed_out', reason: 'logout' },
        }
      }
      if (news) {
        const event = adoptionEvent(news)
        accept(news)
        // Per-tab storage has not seen it: a reload would bring back the spent token.
        if (!sharedStorage) await persist(news)
        return { session: news, event }
      }
      let next: Session
      try {
        next = await refreshGrant(mine.refreshToken)
      } catch (caught) {
        const error = await toTesseraError(caught, now)
        if (error.code !== 'session_expired') {
          recordFailure(error)
          return { session: null, error }
        }
        accept(null)
        await forget()
        post(signedOutMessage(mine, 'session_expired'))
        return { session: null, error, event: { type: 'signed_out', reason: 'session_expired' } }
      }
      // The old refresh token is spent: the new session counts even if storing it fails.
      accept(next)
      await persist(next)
      // Announced before the lock is released: the next holder may not see our write yet.
      post({ type: 'session', session: next })
      return { session: next, event: { type: 'refreshed', session: next } }
    })
  }

  /**
   * The single flight: every caller that finds `from` due for a refresh shares one promise
   * (auth-js's `refreshingDeferred`). `gated` callers respect the backoff after a failure.
   */
  function refreshFrom(from: Session, { gated }: { gated: boolean }): Promise<Session> {
    if (refreshing) return refreshing
    if (current && current.refreshToken !== from.refreshToken) return Promise.resolve(current)
    if (gated && lastFailure && now() < retryNotBefore) return Promise.reject(lastFailure)
    // The flight is over before its listeners hear of it: a listener that calls refresh()
    // starts a new one instead of getting this one back.
    const land = () => {
      if (refreshing === flight) refreshing = null
    }
    const flight: Promise<Session> = runRefresh(from).then(
      (outcome) => {
        land()
        emit(outcome.event)
        if (outcome.error) throw outcome.error
        return outcome.session as Session
      },
      (error: unknown) => {
        land()
        throw error
      },
    )
    refreshing = flight
    return flight
  }

  function assertLive(): void {
    if (disposed) throw disposedError()
  }

  async function getAccessToken(): Promise<string> {
    assertLive()
    await ensureLoaded()
    const session = current
    if (!session) throw notSignedIn()
    if (now() < refreshDueAt(session, margin)) return session.accessToken
    try {
      return (await refreshFrom(session, { gated: true })).accessToken
    } catch (error) {
      // The refresh failed without ending the session and the token still works: use it.
      if (current === session && now() < session.expiresAt) return session.accessToken
      throw error
    }
  }

  async function getSession(): Promise<Session | null> {
    assertLive()
    await ensureLoaded()
    if (!current) return null
    await getAccessToken().catch(() => undefined)
    return current
  }

  async function recoverFromRejectedToken(rejected: string): Promise<void> {
    await ensureLoaded()
    const session = current
    if (!session) throw notSignedIn()
    if (session.accessToken !== rejected) return
    await refreshFrom(session, { gated: true })
  }

  async function receive(message: SyncMessage): Promise<void> {
    const event = await exclusive(async (): Promise<AuthChangeEvent | undefined> => {
      if (heard === message) heard = null
      if (!concernsUs(message)) return undefined
      if (message.type === 'signed_out') {
        if (!current) return undefined
        accept(null)
        // A tab's own storage is cleared by the tab: the sender could not reach it.
        if (!sharedStorage) await forget()
        return { type: 'signed_out', reason: message.reason }
      }
      if (current && message.session.receivedAt < current.receivedAt) return undefined
      const adopted = adoptionEvent(message.session)
      if (adopted) {
        accept(message.session)
        // Kept in this tab's own storage too, or a reload would bring back the spent token.
        if (!sharedStorage) await persist(message.session)
      }
      return adopted
    })
    emit(event)
  }

  if (channel) {
    channel.onmessage = (event) => {
      const message = parseSyncMessage(event.data)
      if (!message || !concernsUs(message)) return
      // Noted at once, not behind the queue: a refresh waiting in it may need this news.
      heard = message
      for (const wake of [...newsWaiters]) wake()
      receive(message).catch(report)
    }
  }

  const http = createAuthenticatedHttp(
    { getAccessToken, recoverFromRejectedToken },
    fetch,
    now,
    trusted,
  )

  // A session restored from storage is refreshed on time too, not only once something asks for it.
  if (autoRefresh) ensureLoaded().catch(report)

  return {
    http,

    async register(request) {
      assertLive()
      return api.register(request)
    },

    async login(credentials) {
      assertLive()
      const session = await api.passwordGrant(credentials)
      await critical(session, async () => {
        accept(session)
        await persist(session)
        // A new session is news only to tabs that share the storage.
        if (sharedStorage) post({ type: 'session', session })
      })
      loading ??= Promise.resolve()
      emit({ type: 'signed_in', session })
      return session
    },

    async logout({ scope = 'session' } = {}) {
      assertLive()
      const failures: unknown[] = []
      // Signing out locally must not depend on reading the storage.
      await ensureLoaded().catch((error: unknown) => failures.push(error))
      let endedAll = false
      if (scope === 'all' && current) {
        try {
          await http.delete('api/sessions', { prefixUrl: authUrl })
          endedAll = true
        } catch (error) {
          failures.push(error)
        }
      }
      const ended = await critical(current, async () => {
        const stored = sharedStorage ? await peekStored() : null
        const session = stored && (!current || isNewer(stored, current)) ? stored : current
        accept(null)
        await forget()
        if (session) post(signedOutMessage(session, 'logout'))
        return session
      })
      if (ended) {
        emit({ type: 'signed_out', reason: 'logout' })
        // When ending them all failed, this one at least ends: the caller learns of the rest.
        if (!endedAll) {
          try {
            await api.revoke(ended.refreshToken)
          } catch (error) {
            failures.push(error)
          }
        }
      }
      // A session that had already ended needs no telling.
      const failure = failures.find(
        (error) =>
          !(isTesseraError(error) && ['session_expired', 'not_signed_in'].includes(error.code)),
      )
      if (failure) throw failure
    },

    async refresh() {
      assertLive()
      await ensureLoaded()
      if (!current) throw notSignedIn()
      return refreshFrom(current, { gated: false })
    },

    getSession,

    getAccessToken,

    async getClaims() {
      const session = await getSession()
      return session ? decodeClaims(session.accessToken) : null
    },

    async me() {
      assertLive()
      return http.get('api/me', { prefixUrl: authUrl }).json<MeResponse>()
    },

    async listSessions() {
      assertLive()
      return http.get('api/sessions', { prefixUrl: authUrl }).json<SessionList>()
    },

    onAuthChange(listener) {
      if (disposed) return () => {}
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    dispose() {
      disposed = true
      clearTimeout(timer)
      timer = undefined
      if (channel) {
        channel.onmessage = null
        channel.close()
      }
      listeners.clear()
    },
  }
}
