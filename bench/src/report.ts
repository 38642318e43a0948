import { cpus, loadavg, release, totalmem } from 'node:os'
import type { RoundResult } from './protocol.ts'
import type { SdkResult } from './sdk.ts'
import { median } from './stats.ts'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  os: string
  database: string
  /** Whether `DATABASE_URL` was set (PostgreSQL) or the embedded PGlite was used. */
  databaseUrlSet: boolean
  /** 1-minute load average when the run began: anything else running skews every figure. */
  loadAverageAtStart: number
}

export function describeMachine(
  database: string,
  databaseUrlSet: boolean,
  loadAverageAtStart: number,
): Machine {
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    database,
    databaseUrlSet,
    loadAverageAtStart,
  }
}

export interface Summary {
  rps: number
  p50: number
  p99: number
  /** Summed over the rounds. */
  errors: number
  /** CPU time of the server under test per request, median of the rounds, in µs. */
  serverCpuMicros: number
  /** CPU time of the load generator per request, median of the rounds, in µs. */
  loadCpuMicros: number
  rounds: RoundResult[]
}

/** Median of the rounds for req/s and each latency; errors of all rounds together. */
export function summarize(rounds: RoundResult[]): Summary {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    serverCpuMicros: median(rounds.map((r) => r.serverCpuMicros ?? Number.NaN)),
    loadCpuMicros: median(rounds.map((r) => r.loadCpuMicros ?? Number.NaN)),
    rounds,
  }
}

export interface Target {
  /** What the figure is compared with, e.g. `0.8× ceiling`. */
  label: string
  value: number
  met: boolean
}

export interface Row {
  key: string
  scenario: string
  summary?: Summary
  /** Free text in place of req/s when the row is not a load run. */
  text?: string
  ratio?: number
  targets?: Target[]
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '–'

function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–'
}

/**
 * The one table: scenario | req/s | p50 ms | p99 ms | errors | server CPU per request | ratio /
 * target. CPU per request says where the time goes even when the machine is shared.
 */
export function markdownTable(rows: Row[]): string {
  const lines = [
    '| scenario | req/s | p50 ms | p99 ms | errors | server CPU µs/req | ratio / target |',
    '|---|--:|--:|--:|--:|--:|---|',
  ]
  for (const row of rows) {
    const s = row.summary
    // Truncated, not rounded: 0.899 must not read as a met 0.90.
    const ratio = row.ratio === undefined ? '' : `${fixed(Math.floor(row.ratio * 100) / 100, 2)}×`
    const targets = (row.targets ?? []).map((t) => `${t.label}: ${t.met ? 'met' : '**missed**'}`)
    const target = [ratio, targets.length > 0 ? `(${targets.join('; ')})` : '']
      .filter(Boolean)
      .join(' ')
    lines.push(
      `| ${row.scenario} | ${s ? thousands(s.rps) : (row.text ?? '')} | ${s ? fixed(s.p50, 2) : ''} | ${
        s ? fixed(s.p99, 2) : ''
      } | ${s ? s.errors : ''} | ${s ? fixed(s.serverCpuMicros, 0) : ''} | ${target} |`,
    )
  }
  return lines.join('\n')
}

export interface PeakRss {
  /** Highest RSS sampled (every 250 ms) while the load scenarios ran. */
  authServer: number
  resourceServer: number
  /** `VmHWM`: the peak over the process's life, start-up (database creation) included. */
  authServerWithStartUp: number
  resourceServerWithStartUp: number
}

export interface BenchReport {
  date: string
  machine: Machine
  settings: {
    connections: number
    durationSeconds: number
    rounds: number
    warmTokens: number
    coldRequestsPerRound: number
    accessTokenLifetimeSeconds: number
  }
  ceiling: { path: string; status: number; note: string }
  scenarios: Record<string, Summary>
  /**
   * req/s against the ceiling (login: against the pure hash rate). Side-by-side rounds: median of
   * the per-round ratios; cold: ratio of the medians.
   */
  ratios: {
    protected_10k: number
    protected_single: number
    cold: number
    login_vs_hash: number
  }
  /** Ceiling's server CPU per request ÷ the scenario's: the ratios as the server alone sees them. */
  cpuRatios: {
    protected_10k: number
    protected_single: number
    cold: number
  }
  targets: Record<string, Target>
  sdk: SdkResult | { error: string }
  peakRssMiB: PeakRss
  mintRatePerSecond: number
  integrity: {
    refreshTokensSent: number
    refreshTokensDistinct: number
    coldTokensSent: number
    coldTokensDistinct: number
  }
  totalSeconds: number
  reference: Record<string, string>
  table: string
}

/** The reference system, on a 2-core machine like ours (issue 5, `shared/VERSIONS.md`). */
export const REFERENCE = {
  'simplejwt protected route (Django/gunicorn)': '≈ 1,150 req/s',
  'simplejwt refresh': '≈ 200 req/s',
  'simplejwt login': '≈ 23 req/s',
  'bare Fastify route': '≈ 40,000–50,000 req/s',
  'Ed25519 verify, one core': '≈ 110 µs a token',
  '@fastify/jwt, default cache, 10,000 live tokens': '≈ 0.1× a bare route',
}

export function currentLoadAverage(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100
}
