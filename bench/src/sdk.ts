import { performance } from 'node:perf_hooks'
import type { StorageAdapter, TesseraClient } from '@tessera/sdk'
import ky from 'ky'
import type { Credentials } from './protocol.ts'
import { percentile } from './stats.ts'

export interface SdkResult {
  /** Sequential `GET /api/restricted/`, mean µs per request, through `client.http` and bare ky. */
  sdkMicros: number
  kyMicros: number
  overheadMicros: number
  sdkP50Micros: number
  kyP50Micros: number
  requestsEach: number
  /** Refresh calls for `concurrent` requests made over an access token past its expiry. */
  refreshCallsExpired: number
  /** Refresh calls for `concurrent` requests whose token the resource server rejects (401). */
  refreshCallsRejected: number
  concurrent: number
  /** Requests of the two concurrent bursts that did not end in a 200. */
  errors: number
}

type CreateClient = typeof import('@tessera/sdk').createClient
type ClientOptions = Parameters<CreateClient>[0]

/**
 * Options for a client that sends its token to the resource server too. `resourceOrigins` is
 * where the SDK may send the access token besides the auth server; passed through a variable so
 * that an SDK without the option still compiles.
 */
function clientOptions(
  options: { authUrl: string; resourceUrl: string },
  extra: Partial<ClientOptions> = {},
): ClientOptions {
  const base = { authUrl: options.authUrl, resourceOrigins: [options.resourceUrl], ...extra }
  return base
}

const BLOCKS = 6
const PER_BLOCK = 500
const CONCURRENT = 1_000

/**
 * The SDK's cost per request against a bare ky call with the same token (sequential, in this
 * process, alternating blocks so that drift hits both alike), and its single-flight refresh: the
 * number of refresh calls behind 1,000 concurrent requests over one expired token.
 */
export async function measureSdk(options: {
  authUrl: string
  resourceUrl: string
  user: Credentials
  accessTokenLifetimeSeconds: number
}): Promise<SdkResult> {
  // Imported here: the SDK is consumed as its built package, which the runner builds first.
  const { createClient } = (await import('@tessera/sdk')) as { createClient: CreateClient }
  const { resourceUrl, user } = options
  const restricted = `${resourceUrl}/api/restricted/`

  const client = createClient(clientOptions(options))
  const session = await client.login(user)
  const bare = ky.create({ headers: { authorization: `Bearer ${session.accessToken}` } })

  const sdkTimes: number[] = []
  const kyTimes: number[] = []
  const time = async (into: number[], call: () => Promise<unknown>) => {
    for (let i = 0; i < PER_BLOCK; i++) {
      const t = performance.now()
      await call()
      into.push((performance.now() - t) * 1000)
    }
  }
  // Warm-up: JIT, keep-alive sockets, the verifier's cache.
  await time([], () => client.http.get(restricted).json())
  await time([], () => bare.get(restricted).json())
  for (let block = 0; block < BLOCKS; block++) {
    await time(sdkTimes, () => client.http.get(restricted).json())
    await time(kyTimes, () => bare.get(restricted).json())
  }
  client.dispose()
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
  const sdkMicros = mean(sdkTimes)
  const kyMicros = mean(kyTimes)

  const expired = await burstOverExpiredToken(createClient, options)
  const rejected = await burstOverRejectedToken(createClient, options)
  return {
    sdkMicros,
    kyMicros,
    overheadMicros: sdkMicros - kyMicros,
    sdkP50Micros: percentile(Float64Array.from(sdkTimes).sort(), 0.5),
    kyP50Micros: percentile(Float64Array.from(kyTimes).sort(), 0.5),
    requestsEach: sdkTimes.length,
    refreshCallsExpired: expired.refreshCalls,
    refreshCallsRejected: rejected.refreshCalls,
    concurrent: CONCURRENT,
    errors: expired.errors + rejected.errors,
  }
}

/** A `fetch` that counts refresh-token grants (the SDK refreshes through `/oauth/token`). */
function countingFetch(): { fetch: typeof fetch; refreshCalls: () => number } {
  let calls = 0
  return {
    refreshCalls: () => calls,
    fetch: async (input, init) => {
      const request = new Request(input, init)
      if (request.url.endsWith('/oauth/token')) {
        const body = await request.clone().text()
        if (new URLSearchParams(body).get('grant_type') === 'refresh_token') calls++
      }
      return fetch(request)
    },
  }
}

async function burst(client: TesseraClient, url: string): Promise<number> {
  const results = await Promise.allSettled(
    Array.from({ length: CONCURRENT }, () => client.http.get(url).json()),
  )
  return results.filter((result) => result.status === 'rejected').length
}

/** The device clock moves past the token's expiry: every request finds it due for a refresh. */
async function burstOverExpiredToken(
  createClient: CreateClient,
  options: Parameters<typeof measureSdk>[0],
): Promise<{ refreshCalls: number; errors: number }> {
  let skew = 0
  const counter = countingFetch()
  const client = createClient(
    clientOptions(options, {
      fetch: counter.fetch,
      now: () => Date.now() + skew,
      autoRefresh: false,
    }),
  )
  await client.login(options.user)
  skew = (options.accessTokenLifetimeSeconds + 1) * 1000
  const errors = await burst(client, `${options.resourceUrl}/api/restricted/`)
  client.dispose()
  return { refreshCalls: counter.refreshCalls(), errors }
}

/**
 * The client believes its token is good, but the resource server refuses it (401
 * `invalid_token`): all requests come back refused, and must share one refresh.
 */
async function burstOverRejectedToken(
  createClient: CreateClient,
  options: Parameters<typeof measureSdk>[0],
): Promise<{ refreshCalls: number; errors: number }> {
  const items = new Map<string, string>()
  const storage: StorageAdapter = {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value)
    },
    removeItem: (key) => {
      items.delete(key)
    },
  }
  const counter = countingFetch()
  const client = createClient(
    clientOptions(options, { fetch: counter.fetch, storage, autoRefresh: false }),
  )
  await client.login(options.user)
  const key = [...items.keys()][0]!
  const stored = JSON.parse(items.get(key)!) as { accessToken: string }
  // One signature character changed: well-formed, correctly signed by nobody.
  const at = stored.accessToken.length - 20
  const flipped = stored.accessToken[at] === 'A' ? 'B' : 'A'
  stored.accessToken = stored.accessToken.slice(0, at) + flipped + stored.accessToken.slice(at + 1)
  items.set(key, JSON.stringify(stored))
  // A fresh client reads the altered session from storage, as after a page reload.
  client.dispose()
  const reloaded = createClient(
    clientOptions(options, { fetch: counter.fetch, storage, autoRefresh: false }),
  )
  const errors = await burst(reloaded, `${options.resourceUrl}/api/restricted/`)
  reloaded.dispose()
  return { refreshCalls: counter.refreshCalls(), errors }
}
