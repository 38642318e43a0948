import { type ChildProcess, fork, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { assess } from './assess.ts'
import { type BenchDatabase, createBenchDatabase } from './database.ts'
import type {
  Credentials,
  LoadCommand,
  LoadReply,
  LoadScenario,
  LoadStats,
  RoundResult,
} from './protocol.ts'
import {
  type BenchReport,
  currentLoadAverage,
  describeMachine,
  markdownTable,
  REFERENCE,
  type Summary,
  summarize,
} from './report.ts'
import { measureSdk, type SdkResult } from './sdk.ts'
import { freePort, type ServerProcess, startServer } from './servers.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url))

function setting(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`)
  return value
}

const CONNECTIONS = setting('BENCH_CONNECTIONS', 32)
const DURATION = setting('BENCH_DURATION', 5)
const ROUNDS = setting('BENCH_ROUNDS', 3)
const WARM_TOKENS = setting('BENCH_WARM_TOKENS', 10_000)
/** Requests per cold round; the pool holds this many per round, so no token is ever sent twice. */
const COLD_PER_ROUND = setting('BENCH_COLD_REQUESTS', 15_000)
const TOKEN_LIFETIME = 3_600
const PROFILE = process.env.BENCH_PROFILE === '1'
const ALL_GROUPS = ['resource', 'cold', 'verify', 'refresh', 'login', 'sdk'] as const
/** `BENCH_ONLY=refresh,login` runs those groups alone (to profile one path); nothing is written. */
const GROUPS = new Set<string>(
  process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((g) => g.trim()) : ALL_GROUPS,
)
for (const group of GROUPS) {
  if (!(ALL_GROUPS as readonly string[]).includes(group)) {
    throw new Error(`BENCH_ONLY: unknown group ${group} (${ALL_GROUPS.join(', ')})`)
  }
}
const SKIP_BUILD = process.env.BENCH_SKIP_BUILD === '1'

const log = (message: string) => process.stderr.write(`bench: ${message}\n`)

/** The production bundles (and the SDK's package build, which the SDK rows import). */
async function build(): Promise<void> {
  const filters = ['@tessera/auth-server', '@tessera/resource-server', '@tessera/sdk']
  const args = [...filters.flatMap((name) => ['--filter', name]), 'run', 'build']
  await new Promise<void>((resolve, reject) => {
    const child = spawn('pnpm', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`build failed (exit ${code}):\n${output}`)),
    )
  })
}

/** The load generator: a forked process, asked one thing at a time. */
type LoadAnswer = Extract<LoadReply, { ok: true }>
type Ask = (command: LoadCommand) => Promise<LoadAnswer>

function startLoadProcess(): { ask: Ask; stop(): void } {
  const child: ChildProcess = fork(fileURLToPath(new URL('./load.ts', import.meta.url)), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [
      ...process.execArgv,
      ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []),
    ],
  })
  let exit: Error | undefined
  child.on('exit', (code) => {
    exit = new Error(`load process exited (${code})`)
  })
  let queue: Promise<unknown> = Promise.resolve()
  const ask = (command: LoadCommand) => {
    const answer = queue.then(
      () =>
        new Promise<LoadAnswer>((resolve, reject) => {
          if (exit) {
            reject(exit)
            return
          }
          const onExit = () => reject(exit ?? new Error('load process exited'))
          child.once('exit', onExit)
          child.once('message', (reply: LoadReply) => {
            child.off('exit', onExit)
            if (reply.ok) resolve(reply)
            else reject(new Error(reply.error))
          })
          child.send(command)
        }),
    )
    queue = answer.catch(() => undefined)
    return answer
  }
  return { ask, stop: () => child.disconnect() }
}

async function register(authUrl: string, users: Credentials[]): Promise<void> {
  for (const user of users) {
    const response = await fetch(`${authUrl}/api/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(user),
    })
    if (response.status !== 201) {
      throw new Error(`register ${user.username}: ${response.status} ${await response.text()}`)
    }
  }
}

/**
 * The resource server's unauthenticated route, the ceiling the protected route is compared with.
 * The first candidate answering 200 wins; without one, the not-found handler (the cheapest answer
 * the server gives without a token) stands in, and the report says so.
 */
async function findCeiling(
  resourceUrl: string,
): Promise<{ path: string; status: number; note: string }> {
  const candidates = ['/health/live', '/health', '/healthz', '/api/health']
  for (const path of candidates) {
    const response = await fetch(`${resourceUrl}${path}`)
    await response.arrayBuffer()
    if (response.status === 200) return { path, status: 200, note: 'unauthenticated route' }
  }
  const path = '/health/live'
  const response = await fetch(`${resourceUrl}${path}`)
  await response.arrayBuffer()
  return {
    path,
    status: response.status,
    note: `the resource server has no unauthenticated route: its ${response.status} handler stands in`,
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10
}

/**
 * Every load scenario of the selected groups, `ROUNDS` times each. Rounds of the resource server
 * scenarios are interleaved, so that the ratios compare rounds taken moments apart.
 */
async function measure(
  ask: Ask,
  ceiling: { path: string; status: number },
  servers: { auth: ServerProcess; resource: ServerProcess },
): Promise<Record<string, RoundResult[]>> {
  const rounds: Record<string, RoundResult[]> = {}
  const keep = (key: string, result: RoundResult) => {
    // The pure-hash rounds have no server: say only what was measured.
    const cpu = [
      result.serverCpuMicros === undefined
        ? ''
        : `, server ${Math.round(result.serverCpuMicros)} µs CPU/req`,
      result.loadCpuMicros === undefined
        ? ''
        : `, load generator ${Math.round(result.loadCpuMicros)} µs`,
    ].join('')
    log(`  ${key}: ${Math.round(result.rps)} req/s${cpu}`)
    const list = rounds[key] ?? []
    list.push(result)
    rounds[key] = list
  }
  const round = async (
    key: string | undefined,
    scenario: LoadScenario,
    limit: { duration?: number; amount?: number },
  ) => {
    const server = ['verify', 'refresh', 'login'].includes(scenario.kind)
      ? servers.auth
      : servers.resource
    const cpuBefore = server.cpuSeconds()
    const { round: result } = await ask({ type: 'load', scenario, ...limit })
    const cpu = server.cpuSeconds() - cpuBefore
    if (key !== undefined)
      keep(key, { ...result!, serverCpuMicros: (cpu / result!.requests) * 1e6 })
  }
  const open: LoadScenario = { kind: 'open', path: ceiling.path, expectStatus: ceiling.status }

  if (GROUPS.has('resource')) {
    log('resource server: warming up (JIT, JWKS, each of the 10,000 tokens verified once)…')
    await round(undefined, open, { duration: 1 })
    await round(undefined, { kind: 'single' }, { duration: 1 })
    await round(undefined, { kind: 'warm' }, { amount: WARM_TOKENS })
    // Each round is DURATION one-second slices of each scenario in turn, so that a burst of
    // other work on the machine falls on all three alike.
    const sides: [string, LoadScenario][] = [
      ['ceiling', open],
      ['protected_single', { kind: 'single' }],
      ['protected_10k', { kind: 'warm' }],
    ]
    for (let r = 1; r <= ROUNDS; r++) {
      log(`resource server: round ${r}/${ROUNDS} (ceiling, one token, 10,000 tokens, in turn)`)
      const cpu = new Map<string, number>()
      for (let slice = 0; slice < DURATION; slice++) {
        for (const [key, scenario] of sides) {
          const before = servers.resource.cpuSeconds()
          await ask({ type: 'load', scenario, duration: 1, series: key })
          cpu.set(key, (cpu.get(key) ?? 0) + servers.resource.cpuSeconds() - before)
        }
      }
      for (const [key] of sides) {
        const { round: result } = await ask({ type: 'series', name: key })
        keep(key, { ...result!, serverCpuMicros: ((cpu.get(key) ?? 0) / result!.requests) * 1e6 })
      }
    }
  }
  // After the warm rounds: cold tokens push the warm ones out of the verifier's cache.
  if (GROUPS.has('cold')) {
    if (!GROUPS.has('resource')) {
      await round(undefined, open, { duration: 1 })
      for (let r = 0; r < ROUNDS; r++) await round('ceiling', open, { duration: DURATION })
    }
    for (let r = 1; r <= ROUNDS; r++) {
      log(`resource server: cold round ${r}/${ROUNDS}`)
      await round('cold', { kind: 'cold' }, { amount: COLD_PER_ROUND })
    }
  }
  if (GROUPS.has('verify')) {
    log('auth server: POST /api/token/verify/…')
    await round(undefined, { kind: 'verify' }, { duration: 1 })
    for (let r = 0; r < ROUNDS; r++)
      await round('verify', { kind: 'verify' }, { duration: DURATION })
  }
  if (GROUPS.has('refresh')) {
    log('auth server: POST /api/token/refresh/…')
    for (let r = 0; r < ROUNDS; r++) {
      await round('refresh', { kind: 'refresh' }, { duration: DURATION })
    }
  }
  if (GROUPS.has('login')) {
    log('auth server: POST /api/token/ and the pure hash rate, alternately…')
    for (let r = 0; r < ROUNDS; r++) {
      await round('login', { kind: 'login' }, { duration: DURATION })
      const { round: hashed } = await ask({ type: 'hash', duration: DURATION })
      keep('hash', hashed!)
    }
  }
  return rounds
}

async function main(): Promise<void> {
  const startedAt = performance.now()
  const loadAtStart = currentLoadAverage()
  if (loadAtStart > 1) {
    log(`the machine is busy (load average ${loadAtStart}): figures will be lower and noisier`)
  }
  const databaseUrl = process.env.DATABASE_URL || undefined
  if (!SKIP_BUILD) {
    log('building the production bundles…')
    await build()
  }

  const work = await mkdtemp(join(tmpdir(), 'tessera-bench-'))
  let database: BenchDatabase | undefined
  const servers: ServerProcess[] = []
  let loader: ReturnType<typeof startLoadProcess> | undefined
  try {
    if (databaseUrl) database = await createBenchDatabase(databaseUrl)
    const databaseName = database?.version ?? 'PGlite (embedded, on disk)'
    const [authPort, resourcePort] = [await freePort(), await freePort()]
    const authUrl = `http://127.0.0.1:${authPort}`
    const profileArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []
    const databaseEnv = (name: string): Record<string, string> =>
      database ? { DATABASE_URL: database.url } : { DATA_DIR: join(work, name) }

    log(`starting the servers on ${databaseName}…`)
    // Started together: each opens (and on first start, creates) its own database.
    const started = await Promise.allSettled([
      startServer({
        name: 'auth-server',
        entry: join(ROOT, 'apps/auth-server/dist/server.mjs'),
        port: authPort,
        cwd: ROOT,
        nodeArgs: profileArgs,
        env: {
          ...databaseEnv('auth-server'),
          ISSUER: authUrl,
          RATE_LIMIT_LOGIN_PER_MINUTE: '0',
          ACCESS_TOKEN_LIFETIME_SECONDS: String(TOKEN_LIFETIME),
          REGISTRATION_ENABLED: 'true',
        },
        ready: async (url) => {
          const response = await fetch(`${url}/health/ready`)
          await response.arrayBuffer()
          return response.status === 200
        },
      }),
      startServer({
        name: 'resource-server',
        entry: join(ROOT, 'apps/resource-server/dist/server.mjs'),
        port: resourcePort,
        cwd: ROOT,
        nodeArgs: profileArgs,
        env: {
          ...databaseEnv('resource-server'),
          AUTH_URL: authUrl,
          ISSUER: authUrl,
          AUDIENCE: 'tessera',
        },
        // Any answer means it listens (it has no health route of its own to ask).
        ready: async (url) => {
          await (await fetch(url)).arrayBuffer()
          return true
        },
      }),
    ])
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value)
    for (const result of started) if (result.status === 'rejected') throw result.reason
    const [auth, resource] = servers as [ServerProcess, ServerProcess]
    const ceiling = await findCeiling(resource.url)

    const suffix = randomBytes(3).toString('hex')
    const users: Credentials[] = Array.from({ length: 4 }, (_, i) => ({
      username: `bench-${suffix}-${i}`,
      password: `correct horse battery staple ${i}`,
    }))
    await register(authUrl, users)

    loader = startLoadProcess()
    const { ask } = loader
    await ask({ type: 'init', authUrl, resourceUrl: resource.url, users, connections: CONNECTIONS })

    const needsWarm = ['resource', 'verify', 'sdk'].some((g) => GROUPS.has(g))
    const coldTotal = GROUPS.has('cold') ? COLD_PER_ROUND * ROUNDS : 0
    const minted = (needsWarm ? WARM_TOKENS : 1) + coldTotal
    log(`minting ${minted.toLocaleString('en-US')} access tokens by refresh rotation…`)
    const mintStarted = performance.now()
    await ask({ type: 'mint', pool: 'warm', amount: needsWarm ? WARM_TOKENS : 1 })
    if (coldTotal > 0) await ask({ type: 'mint', pool: 'cold', amount: coldTotal })
    const mintRate = minted / ((performance.now() - mintStarted) / 1000)

    // RSS under load: sampled while the scenarios run (VmHWM also counts the start-up).
    const underLoad = { auth: 0, resource: 0 }
    const sampler = setInterval(() => {
      underLoad.auth = Math.max(underLoad.auth, auth.rss() || 0)
      underLoad.resource = Math.max(underLoad.resource, resource.rss() || 0)
    }, 250)
    const rounds = await measure(ask, ceiling, { auth, resource }).finally(() =>
      clearInterval(sampler),
    )

    let sdk: SdkResult | undefined
    let sdkError: string | undefined
    if (GROUPS.has('sdk')) {
      log('SDK: overhead per request and single-flight refresh…')
      try {
        sdk = await measureSdk({
          authUrl,
          resourceUrl: resource.url,
          user: users[0]!,
          accessTokenLifetimeSeconds: TOKEN_LIFETIME,
        })
      } catch (error) {
        // The SDK is measured last: its failure must not throw the server figures away.
        sdkError = error instanceof Error ? error.message : String(error)
        log(`SDK measurement failed: ${sdkError}`)
      }
    }
    const stats = (await ask({ type: 'stats' })).stats as LoadStats
    const peakRssMiB = {
      authServer: mib(underLoad.auth),
      resourceServer: mib(underLoad.resource),
      authServerWithStartUp: mib(auth.peakRss()),
      resourceServerWithStartUp: mib(resource.peakRss()),
    }
    if (
      stats.refreshTokensSent !== stats.refreshTokensDistinct ||
      stats.coldTokensSent !== stats.coldTokensDistinct
    ) {
      throw new Error(`a token was sent twice: ${JSON.stringify(stats)}`)
    }

    const scenarios: Record<string, Summary> = {}
    for (const [key, list] of Object.entries(rounds)) scenarios[key] = summarize(list)
    const { rows, ratios, cpuRatios, targets } = assess({
      scenarios,
      sdk,
      sdkError,
      peakRssMiB,
      ceiling,
      onPostgres: database !== undefined,
      coldPerRound: COLD_PER_ROUND,
      connections: CONNECTIONS,
    })
    const table = markdownTable(rows)
    const machine = describeMachine(databaseName, database !== undefined, loadAtStart)
    const totalSeconds = Math.round((performance.now() - startedAt) / 100) / 10
    console.log(
      [
        '',
        `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${databaseName}; load average at start ${loadAtStart}`,
        `${CONNECTIONS} connections, median of ${ROUNDS} rounds of ${DURATION} s; ceiling: ${ceiling.note}`,
        '',
        table,
        '',
      ].join('\n'),
    )
    if (GROUPS.size < ALL_GROUPS.length) {
      log(`BENCH_ONLY run in ${totalSeconds} s: nothing written`)
      return
    }
    const report: BenchReport = {
      date: new Date().toISOString(),
      machine,
      settings: {
        connections: CONNECTIONS,
        durationSeconds: DURATION,
        rounds: ROUNDS,
        warmTokens: WARM_TOKENS,
        coldRequestsPerRound: COLD_PER_ROUND,
        accessTokenLifetimeSeconds: TOKEN_LIFETIME,
      },
      ceiling,
      scenarios,
      ratios,
      cpuRatios,
      targets,
      sdk: sdk ?? { error: sdkError ?? 'not run' },
      peakRssMiB,
      mintRatePerSecond: Math.round(mintRate),
      integrity: {
        refreshTokensSent: stats.refreshTokensSent,
        refreshTokensDistinct: stats.refreshTokensDistinct,
        coldTokensSent: stats.coldTokensSent,
        coldTokensDistinct: stats.coldTokensDistinct,
      },
      totalSeconds,
      reference: REFERENCE,
      table,
    }
    await mkdir(RESULTS, { recursive: true })
    const json = `${JSON.stringify(report, null, 2)}\n`
    await writeFile(join(RESULTS, 'latest.json'), json)
    await writeFile(join(RESULTS, database ? 'postgres.json' : 'pglite.json'), json)
    log(`written to bench/results/latest.json; ${totalSeconds} s in all`)
  } finally {
    loader?.stop()
    await Promise.all(servers.map((server) => server.stop()))
    await database?.drop().catch((error: unknown) => log(`could not drop the database: ${error}`))
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
