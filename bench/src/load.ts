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
  /**
   * Raw requests for one connection, sent in turn and round again; `onSend` hears of each with
   * its position. What the resource-server scenarios use, the ceiling included.
   */
  buffersFor?: (index: number) => { buffers: readonly Buffer[]; onSend?: (n: number) => void }
  expectStatus: number
  onDone?: () => void
}

// autocannon 8's client writes `getRequestBuffer()` after `requestIterator.nextRequest()`.
interface ClientInternals {
  requestIterator: { nextRequest(): unknown }
  getRequestBuffer(): Buffer
}

/**
 * Sends prebuilt requests in turn: the load generator then spends the same on a request whether it
 * carries no token, one token or one of 10,000 (autocannon would otherwise rebuild its requests
 * on every run), so the ratios compare the servers and not the load generator.
 */
function cycle(client: Client, buffers: readonly Buffer[], onSend?: (n: number) => void): void {
  const internals = client as unknown as ClientInternals
  let next = 0
  internals.requestIterator.nextRequest = () => undefined
  internals.getRequestBuffer = () => {
    onSend?.(next)
    return buffers[next++ % buffers.length]!
  }
}

/** An HTTP/1.1 request as autocannon writes it. */
function raw(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body = '',
): Buffer {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${new URL(url).host}`,
    'Connection: keep-alive',
  ]
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

/** A round with its latencies (sorted), which stay in this process. */
type Measured = RoundResult & { latencies: Float64Array }

/**
 * Runs autocannon in this process and measures every response itself: autocannon's histogram has a
 * 1 ms resolution, too coarse for sub-millisecond latencies, and its duration counts the idle
 * second before it notices an `amount` run has finished.
 */
function fire(
  plan: Plan,
  limit: { duration?: number; amount?: number },
  connections: number,
): Promise<Measured> {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  let unexpected = 0
  let last = 0
  const statuses: Record<string, number> = {}
  let nextClient = 0
  let started = performance.now()
  const cpuBefore = process.cpuUsage()
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: plan.url,
        connections,
        pipelining: 1,
        timeout: 10,
        // How often autocannon looks whether to stop: an `amount` run ends within 100 ms.
        sampleInt: 100,
        ...(limit.amount === undefined
          ? { duration: limit.duration ?? 5 }
          : { amount: limit.amount }),
        setupClient: (client: Client) => {
          const index = nextClient++
          if (plan.requestsFor) client.setRequests(plan.requestsFor(index, client))
          if (plan.buffersFor) {
            const { buffers, onSend } = plan.buffersFor(index)
            cycle(client, buffers, onSend)
          }
        },
      },
      (error, result) => {
        if (error) {
          reject(error)
          return
        }
        plan.onDone?.()
        const cpu = process.cpuUsage(cpuBefore)
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
          loadCpuMicros: (cpu.user + cpu.system) / count,
          latencies: measured,
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

/** Requests built once per pool and connection count, and kept: a round is made of many runs. */
const built = new Map<string, Buffer[][]>()

function perConnection(key: string, connections: number, build: (index: number) => Buffer[]) {
  const cacheKey = `${key}/${connections}`
  let list = built.get(cacheKey)
  if (!list) {
    list = Array.from({ length: connections }, (_, index) => build(index))
    built.set(cacheKey, list)
  }
  return (index: number) => ({ buffers: list[index]! })
}

function restricted(url: string, token: string): Buffer {
  return raw(url, 'GET', '/api/restricted/', { authorization: `Bearer ${token}` })
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
): Promise<Measured> {
  const connections = s.connections
  switch (scenario.kind) {
    case 'open':
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: scenario.expectStatus,
          buffersFor: perConnection(`open ${scenario.path}`, connections, () => [
            raw(s.resourceUrl, 'GET', scenario.path, {}),
          ]),
        },
        limit,
        connections,
      )
    case 'single':
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: 200,
          buffersFor: perConnection('single', connections, () => [
            restricted(s.resourceUrl, s.pools.warm[0]!),
          ]),
        },
        limit,
        connections,
      )
    case 'warm':
      // One stripe of the pool per connection, so every token is in use all the time.
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: 200,
          buffersFor: perConnection('warm', connections, (index) =>
            stripe(s.pools.warm, index, connections).map((t) => restricted(s.resourceUrl, t)),
          ),
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
      // autocannon gives connection i floor(amount/c) requests, plus one for the first amount % c:
      // each connection gets exactly as many unsent tokens as it will send.
      const sizes = Array.from(
        { length: connections },
        (_, i) => Math.floor(amount / connections) + (i < amount % connections ? 1 : 0),
      )
      return fire(
        {
          url: s.resourceUrl,
          expectStatus: 200,
          buffersFor: (index) => {
            const from = start + sizes.slice(0, index).reduce((sum, n) => sum + n, 0)
            const size = sizes[index]!
            return {
              buffers: cold.slice(from, from + size).map((t) => restricted(s.resourceUrl, t)),
              onSend: (n) => {
                s.coldSent++
                if (n < size) s.coldDistinct++
              },
            }
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
          buffersFor: perConnection('verify', connections, (index) =>
            stripe(s.pools.warm, index, connections).map((token) =>
              raw(s.authUrl, 'POST', '/api/token/verify/', JSON_HEADERS, `{"token":"${token}"}`),
            ),
          ),
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

interface Series {
  requests: number
  seconds: number
  loadCpuMicros: number
  errors: number
  statuses: Record<string, number>
  latencies: Float64Array[]
}

// Slices of one round, taken in turn with other scenarios' slices, added up until asked for.
const series = new Map<string, Series>()

function addToSeries(name: string, slice: Measured): void {
  const sum: Series = series.get(name) ?? {
    requests: 0,
    seconds: 0,
    loadCpuMicros: 0,
    errors: 0,
    statuses: {},
    latencies: [],
  }
  sum.loadCpuMicros += (slice.loadCpuMicros ?? 0) * slice.requests
  sum.requests += slice.requests
  sum.seconds += slice.seconds
  sum.errors += slice.errors
  for (const [status, count] of Object.entries(slice.statuses)) {
    sum.statuses[status] = (sum.statuses[status] ?? 0) + count
  }
  sum.latencies.push(slice.latencies)
  series.set(name, sum)
}

function takeSeries(name: string): RoundResult {
  const sum = series.get(name)
  if (!sum) throw new Error(`load process: no series ${name}`)
  series.delete(name)
  const all = new Float64Array(sum.latencies.reduce((n, l) => n + l.length, 0))
  let at = 0
  for (const part of sum.latencies) {
    all.set(part, at)
    at += part.length
  }
  all.sort()
  return {
    requests: sum.requests,
    seconds: sum.seconds,
    rps: sum.requests / sum.seconds,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    errors: sum.errors,
    statuses: sum.statuses,
    loadCpuMicros: sum.loadCpuMicros / sum.requests,
  }
}

function withoutLatencies({ latencies: _, ...round }: Measured): RoundResult {
  return round
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
    case 'load': {
      const measured = await load(current(), command.scenario, {
        duration: command.duration,
        amount: command.amount,
      })
      if (command.series !== undefined) addToSeries(command.series, measured)
      return { ok: true, round: withoutLatencies(measured) }
    }
    case 'series':
      return { ok: true, round: takeSeries(command.name) }
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
