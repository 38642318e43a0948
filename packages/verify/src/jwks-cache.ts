import { JwksUnavailableError } from './errors.ts'
import {
  importKeySet,
  jwksKeys,
  type KeySource,
  keyNotFound,
  selectKey,
  type VerificationKey,
  type VerifyAlgorithm,
} from './keys.ts'

export interface JwksCacheOptions {
  /** The issuer's JWKS, e.g. `http://127.0.0.1:4000/.well-known/jwks.json`. */
  url: string | URL
  /** Keys for other algorithms are ignored. */
  algorithms: readonly VerifyAlgorithm[]
  /** Injected for tests or custom agents; the global `fetch` by default. */
  fetch?: typeof fetch
  /** Milliseconds since the epoch; `Date.now` by default. */
  clock?: () => number
  /**
   * Least time between two fetches, whatever triggers them (unknown kids, expiry, retries after
   * an error): a flood of tokens with random kids costs the auth server one request per cooldown.
   * Default 5 s.
   */
  cooldownMs?: number
  /** Freshness when the answer has no `Cache-Control: max-age`. Default 5 min. */
  defaultMaxAgeMs?: number
  /** Upper bound on a `max-age`, so a revoked key leaves the cache in time. Default 1 h. */
  maxMaxAgeMs?: number
  /** Per request. Default 5 s. */
  timeoutMs?: number
  /**
   * How long past their freshness the last good keys keep verifying while the JWKS cannot be
   * fetched (stale-if-error). Past it they are dropped and `getKey` throws `JwksUnavailableError`
   * until a fetch succeeds again: an outage of the auth server must not keep a key it withdrew
   * meanwhile alive for ever. Default 24 h.
   */
  maxStaleMs?: number
  /**
   * Called after a refresh dropped kids, or replaced the key behind a kid; the verifier flushes
   * its verified-token cache.
   */
  onKeysRemoved?: (kids: readonly string[]) => void
}

/** What a JWKS cache knows, for health checks and logs. */
export interface JwksCacheStatus {
  kids: string[]
  /** When the keys in use were fetched (ms), or `undefined` before the first success. */
  fetchedAt: number | undefined
  /**
   * Until when they count as fresh (ms). Past it they are still served while a refetch runs, for
   * at most `maxStaleMs` more.
   */
  freshUntil: number | undefined
  /** The last fetch failed: keys in use (if any) are the last good ones. */
  lastError: unknown
}

export interface JwksCache extends KeySource {
  /** Fetches now (single-flight, no cooldown); keeps the last good keys when it fails. */
  refresh(): Promise<void>
  status(): JwksCacheStatus
}

const MAX_JWKS_BYTES = 1_000_000
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The body as UTF-8 text, refused past `limit` bytes: by its Content-Length before reading
 * anything, else by counting bytes as they arrive and cancelling the stream at the limit, so a
 * huge or endless answer costs at most `limit` bytes of memory.
 */
async function readBounded(response: Response, limit: number): Promise<string> {
  const declared = response.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) {
    await response.body?.cancel().catch(() => {})
    throw new Error('JWKS document is too large')
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw new Error('JWKS document is too large')
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return utf8.decode(bytes)
}

/**
 * A remote JWKS, fetched on first use and cached.
 *
 * - Fresh for `Cache-Control: max-age` (bounded), then served stale while one refetch runs.
 * - An unknown `kid` triggers a refetch, single-flight and at most once per cooldown.
 * - Stale-if-error: when the auth server is unreachable, the last good keys keep working, for
 *   `maxStaleMs` (24 h) past their freshness; then they are dropped (`JwksUnavailableError`).
 * - Each key is imported into WebCrypto once and reused across refreshes.
 *
 * @example
 * const jwks = createJwksCache({ url: 'http://127.0.0.1:4000/.well-known/jwks.json', algorithms: ['EdDSA'] })
 * const { key } = await jwks.getKey(kid, 'EdDSA')
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const url = String(options.url)
  const algorithms = [...options.algorithms]
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const clock = options.clock ?? Date.now
  const cooldownMs = options.cooldownMs ?? 5_000
  const defaultMaxAgeMs = options.defaultMaxAgeMs ?? 300_000
  const maxMaxAgeMs = options.maxMaxAgeMs ?? 3_600_000
  const timeoutMs = options.timeoutMs ?? 5_000
  const maxStaleMs = options.maxStaleMs ?? 86_400_000

  let keys: Map<string, VerificationKey> | undefined
  let fetchedAt: number | undefined
  let freshUntil = Number.NEGATIVE_INFINITY
  let lastAttemptAt = Number.NEGATIVE_INFINITY
  let lastError: unknown
  let inflight: Promise<void> | undefined

  function load(): Promise<void> {
    if (inflight !== undefined) return inflight
    lastAttemptAt = clock()
    inflight = fetchKeys().finally(() => {
      inflight = undefined
    })
    return inflight
  }

  async function fetchKeys(): Promise<void> {
    try {
      const response = await doFetch(url, {
        headers: { accept: 'application/json' },
        // A redirect is an answer we did not ask for; following it would let it pick our keys.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`JWKS endpoint answered ${response.status}`)
      }
      const list = jwksKeys(JSON.parse(await readBounded(response, MAX_JWKS_BYTES)))
      if (list === undefined) throw new Error('JWKS document has no "keys" array')
      const next = await importKeySet(list, algorithms, keys)
      // A kid whose key material changed counts as removed too: tokens verified with the old
      // key must not outlive it in the verified-token cache.
      const removed: string[] = []
      if (keys !== undefined) {
        for (const [kid, key] of keys) {
          if (next.get(kid)?.thumbprint !== key.thumbprint) removed.push(kid)
        }
      }
      const now = clock()
      keys = next
      fetchedAt = now
      freshUntil = now + maxAge(response.headers.get('cache-control'))
      lastError = undefined
      if (removed.length > 0) options.onKeysRemoved?.(removed)
    } catch (error) {
      lastError = error
      throw new JwksUnavailableError(`Could not fetch the JWKS from ${url}`, { cause: error })
    }
  }

  function maxAge(cacheControl: string | null): number {
    if (cacheControl === null) return defaultMaxAgeMs
    if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return 0
    const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl)
    if (match === null) return defaultMaxAgeMs
    return Math.min(Number(match[1]) * 1000, maxMaxAgeMs)
  }

  function coolingDown(now: number): boolean {
    return now - lastAttemptAt < cooldownMs
  }

  function unavailable(): JwksUnavailableError {
    return new JwksUnavailableError(`The JWKS from ${url} is not available`, { cause: lastError })
  }

  /** The keys in use; while awaiting, a concurrent caller may have dropped them as too stale. */
  function inUse(): Map<string, VerificationKey> {
    if (keys === undefined) throw unavailable()
    return keys
  }

  /** Drops keys stale for longer than `maxStaleMs`: the auth server has been gone too long. */
  function expireStale(now: number): void {
    if (keys === undefined || now < freshUntil + maxStaleMs) return
    const kids = [...keys.keys()]
    keys = undefined
    fetchedAt = undefined
    freshUntil = Number.NEGATIVE_INFINITY
    if (kids.length > 0) options.onKeysRemoved?.(kids)
  }

  return {
    async getKey(kid, alg) {
      const now = clock()
      expireStale(now)
      if (keys === undefined) {
        // Nothing cached yet: wait for the first fetch, but do not retry a failing auth server
        // on every request.
        if (inflight !== undefined) await inflight
        else if (coolingDown(now)) throw unavailable()
        else await load()
      }
      let key = selectKey(inUse(), kid, alg)
      if (key === undefined) {
        // A kid we do not know may be a key the issuer just added: look once more.
        if (inflight !== undefined || !coolingDown(now)) {
          await load().catch(() => {})
          key = selectKey(inUse(), kid, alg)
        }
        if (key === undefined) throw keyNotFound()
      } else if (now >= freshUntil && inflight === undefined && !coolingDown(now)) {
        // Stale: answer with what we have, refresh behind it (stale-while-revalidate/if-error).
        load().catch(() => {})
      }
      return key
    },
    async refresh() {
      await load()
    },
    status() {
      expireStale(clock())
      return {
        kids: keys === undefined ? [] : [...keys.keys()],
        fetchedAt,
        freshUntil: fetchedAt === undefined ? undefined : freshUntil,
        lastError,
      }
    },
  }
}
