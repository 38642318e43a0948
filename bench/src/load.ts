import { performance } from 'node:perf_hooks'
import { type Algorithm, hash } from '@node-rs/argon2'
import autocannon from 'autocannon'
import type {
  Credentials,
  LoadCommand,
  LoadReply,
  LoadScenario,
  LoadStats,
  PoolName,
  RoundResult,
} from './protocol.ts'
import { percentile } from './stats.ts'

// The load generator: its own process (forked by the runner), so that measuring never shares an
// event loop with the servers or with the runner. It holds the token pools, so tokens never cross
// a process boundary in bulk.

// The auth server's `OWASP_ARGON2ID` (apps/auth-server/src/services/passwords.ts), Argon2id.
const ARGON2_PARAMETERS = {
  algorithm: 2 as Algorithm.Argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
}

type Request = autocannon.Request
type Client = autocannon.Client

interface State {
  authUrl: string
  resourceUrl: string
  users: Credentials[]
  connections: number
  pools: Record<PoolName, string[]>
  coldNext: number
  /** Live refresh tokens that were never sent: each one is the head of a rotation chain. */
  chains: string[]
  sentRefresh: Set<string>
  refreshSent: number
  coldSent: number
  coldDistinct: number
}

let state: State | undefined

function current(): State {
  if (!state) throw new Error('load process: init first')
  return state
}

const JSON_HEADERS = { 'content-type': 'application/json' }

interface Plan {
  url: string
  /** Requests for one connection; called once per connection, in order. */
  requestsFor?: (index: number, client: Client) => Request[]
  /** The same request on every connection (the cheapest for the load generator). */
  request?: Request
  expectStatus: number
  onDone?: () => void
}

/**
 * Runs autocannon in this process and measures every response itself: autocannon's histogram has a
 * 1 ms resolution, too coarse for sub-millisecond latencies, and its duration counts the idle
 * second before it notices an `amount` run has finished.
 */
function fire(
  plan: Plan,
  limit: { duration?: number; amount?: number },
  connections: number,
): Promise<RoundResult> {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  let unexpected = 0
  let last = 0
  const statuses: Record<string, number> = {}
  let nextClient = 0
  let started = performance.now()
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: plan.url,
        connections,
        pipelining: 1,
        timeout: 10,
        ...(limit.amount === undefined
          ? { duration: limit.duration ?? 5 }
          : { amount: limit.amount }),
        ...(plan.request ? { requests: [plan.request] } : {}),
        ...(plan.requestsFor
          ? {
              setupClient: (client: Client) => {
                client.setRequests(plan.requestsFor!(nextClient++, client))
              },
            }
          : {}),
      },
      (error, result) => {
        if (error) {
          reject(error)
          return
        }
        plan.onDone?.()
        const seconds = (last - started) / 1000
        const measured = latencies.subarray(0, count).sort()
        resolve({
          requests: count,
          seconds,
          rps: count / seconds,
          p50: percentile(measured, 0.5),
          p99: percentile(measured, 0.99),
          errors: result.errors + unexpected,
          statuses,
        })
      },
    )
    // Once every connection is set up (10,000 prebuilt requests take a few ms to build).
    instance.on('start', () => {
      started = performance.now()
    })
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2)
        grown.set(latencies)
        latencies = grown
      }
      latencies[count++] = responseTime
      last = performance.now()
      if (statusCode !== plan.expectStatus) unexpected++
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
    })
  })
}

function bearer(token: string): Request {
  return { method: 'GET', path: '/api/restricted/', headers: { authorization: `Bearer ${token}` } }
}

/** Connection `index` of `connections` takes every `connections`-th token, starting at `index`. */
function stripe(tokens: readonly string[], index: number, connections: number): string[] {
  const out: string[] = []
  for (let i = index; i < tokens.length; i += connections) out.push(tokens[i]!)
  return out
}

/**
 * A rotation chain per connection: each refresh token is sent once, and the next request carries
 * the token its answer returned. A connection whose chain breaks (an error, a lost answer) starts
 * a new chain from a fresh session rather than send anything twice.
 */
function chainRequests(s: State, onPair: (access: string) => void): Plan['requestsFor'] {
  return () => {
    let head: string | undefined
    const request: Request = {
      method: 'POST',
      path: '/api/token/refresh/',
      headers: JSON_HEADERS,
      setupRequest: (req) => {
        const token = head ?? s.chains.pop()
        head = undefined
        if (token === undefined) throw new Error('load process: out of sessions for refresh chains')
        s.sentRefresh.add(token)
        s.refreshSent++
        req.body = `{"refresh":"${token}"}`
        return req
      },
      onResponse: (status, body) => {
        if (status !== 200) return
        const pair = JSON.parse(body) as { access: string; refresh: string }
        head = pair.refresh
        onPair(pair.access)
      },
    }
    // The unsent head of each chain goes back to the pool when the run ends.
    heads.push(() => head)
    return [request]
  }
}

// Collects the unsent heads of the chains of the run in progress.
let heads: (() => string | undefined)[] = []

function reclaimHeads(s: State): void {
  for (const head of heads) {
    const token = head()
    if (token !== undefined) s.chains.push(token)
  }
  heads = []
}

async function ensureSessions(s: State, atLeast: number): Promise<void> {
  const missing = atLeast - s.chains.length
  if (missing <= 0) return
  const connections = Math.min(s.connections, missing)
  const round = await fire(loginPlan(s), { amount: missing }, connections)
  if (round.errors > 0) {
    throw new Error(
      `load process: ${round.errors} logins failed (${JSON.stringify(round.statuses)})`,
    )
  }
}

function loginPlan(s: State): Plan {
  let turn = 0
  return {
    url: s.authUrl,
    expectStatus: 200,
    requestsFor: () => {
      // Each connection logs in as its own user in turn; every login is a new session.
      const user = s.users[turn++ % s.users.length]!
      return [
        {
          method: 'POST',
          path: '/api/token/',
          headers: JSON_HEADERS,
          body: JSON.stringify(user),
          onResponse: (status, body) => {
            if (status === 200) s.chains.push((JSON.parse(body) as { refresh: string }).refresh)
          },
        },
      ]
    },
  }
}

async function mint(s: State, pool: PoolName, amount: number): Promise<number> {
  const connections = Math.min(s.connections, amount)
  await ensureSessions(s, connections * 2)
  const tokens = s.pools[pool]
  const round = await fire(
    {
      url: s.authUrl,
      expectStatus: 200,
      requestsFor: chainRequests(s, (access) => tokens.push(access)),
      onDone: () => reclaimHeads(s),
    },
    { amount },
    connections,
  )
  if (round.errors > 0) {
    throw new Error(`load process: ${round.errors} refreshes failed while minting`)
  }
  if (new Set(tokens).size !== tokens.length)
    throw new Error('load process: a token was minted twice')
  return round.rps
}

async function load(
  s: State,
  scenario: LoadScenario,
  limit: { duration?: number; amount?: number },
): Promise<RoundResult> {
  const connections = s.connections
  switch (scenario.kind) {
    case 'open':
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: scenario.expectStatus,
          request: { method: 'GET', path: scenario.path },
        },
        limit,
        connections,
      )
    case 'single':
      return fire(
        { url: s.resourceUrl, expectStatus: 200, request: bearer(s.pools.warm[0]!) },
        limit,
        connections,
      )
    case 'warm':
      // Prebuilt requests, one slice of the pool per connection: the load generator spends
      // nothing per request on choosing a token, exactly as with the single token.
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: 200,
          requestsFor: (index) => stripe(s.pools.warm, index, connections).map(bearer),
        },
        limit,
        connections,
      )
    case 'cold': {
      const amount = limit.amount
      if (amount === undefined) throw new Error('load process: a cold run needs an amount')
      const cold = s.pools.cold
      const start = s.coldNext
      if (start + amount > cold.length) {
        throw new Error(`load process: cold pool exhausted (${cold.length - start} left)`)
      }
      s.coldNext += amount
      const slices: number[] = []
      // autocannon gives connection i floor(amount/c) requests, plus one for the first amount % c.
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: 200,
          requestsFor: (index, client) => {
            const size = Math.floor(amount / connections) + (index < amount % connections ? 1 : 0)
            const from = start + slices.reduce((sum, n) => sum + n, 0)
            slices.push(size)
            // Set up before the connection opens, so it sees the first request too.
            let sent = 0
            ;(client as NodeJS.EventEmitter).on('request', () => {
              sent++
              s.coldSent++
              if (sent <= size) s.coldDistinct++
            })
            return cold.slice(from, from + size).map(bearer)
          },
        },
        { amount },
        connections,
      )
    }
    case 'verify':
      return fire(
        {
          url: s.authUrl,
          expectStatus: 200,
          requestsFor: (index) =>
            stripe(s.pools.warm, index, connections).map((token) => ({
              method: 'POST',
              path: '/api/token/verify/',
              headers: JSON_HEADERS,
              body: `{"token":"${token}"}`,
            })),
        },
        limit,
        connections,
      )
    case 'refresh':
      await ensureSessions(s, connections * 2)
      return fire(
        {
          url: s.authUrl,
          expectStatus: 200,
          requestsFor: chainRequests(s, () => {}),
          onDone: () => reclaimHeads(s),
        },
        limit,
        connections,
      )
    case 'login':
      return fire(loginPlan(s), limit, connections)
  }
}

/** Argon2id hashes with `connections` in flight, as many logins would be. */
async function hashRate(s: State, duration: number): Promise<RoundResult> {
  const latencies: number[] = []
  const started = performance.now()
  const deadline = started + duration * 1000
  let last = started
  let errors = 0
  const worker = async (id: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const t = performance.now()
      try {
        await hash(`correct horse battery staple ${id}.${i}`, ARGON2_PARAMETERS)
      } catch {
        errors++
      }
      last = performance.now()
      latencies.push(last - t)
    }
  }
  await Promise.all(Array.from({ length: s.connections }, (_, id) => worker(id)))
  const measured = Float64Array.from(latencies).sort()
  const seconds = (last - started) / 1000
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(measured, 0.5),
    p99: percentile(measured, 0.99),
    errors,
    statuses: {},
  }
}

function stats(s: State): LoadStats {
  return {
    warm: s.pools.warm.length,
    cold: s.pools.cold.length,
    coldUsed: s.coldNext,
    chains: s.chains.length,
    refreshTokensSent: s.refreshSent,
    refreshTokensDistinct: s.sentRefresh.size,
    coldTokensSent: s.coldSent,
    coldTokensDistinct: s.coldDistinct,
  }
}

async function handle(command: LoadCommand): Promise<LoadReply> {
  switch (command.type) {
    case 'init':
      state = {
        authUrl: command.authUrl,
        resourceUrl: command.resourceUrl,
        users: command.users,
        connections: command.connections,
        pools: { warm: [], cold: [] },
        coldNext: 0,
        chains: [],
        sentRefresh: new Set(),
        refreshSent: 0,
        coldSent: 0,
        coldDistinct: 0,
      }
      return { ok: true }
    case 'sessions':
      await ensureSessions(current(), command.atLeast)
      return { ok: true, count: current().chains.length }
    case 'mint':
      return { ok: true, count: await mint(current(), command.pool, command.amount) }
    case 'load':
      return {
        ok: true,
        round: await load(current(), command.scenario, {
          duration: command.duration,
          amount: command.amount,
        }),
      }
    case 'hash':
      return { ok: true, round: await hashRate(current(), command.duration) }
    case 'stats':
      return { ok: true, stats: stats(current()) }
  }
}

process.on('message', (command: LoadCommand) => {
  handle(command).then(
    (reply) => process.send!(reply),
    (error: unknown) =>
      process.send!({
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  )
})
process.on('disconnect', () => process.exit(0))
