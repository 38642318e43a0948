/** What the runner asks of the load-generator process, one message at a time. */
export type LoadCommand =
  | {
      type: 'init'
      authUrl: string
      resourceUrl: string
      users: Credentials[]
      connections: number
    }
  /** Sessions (refresh tokens never sent) for refresh chains, through real logins. */
  | { type: 'sessions'; atLeast: number }
  /** Access tokens minted by refresh chains, into a pool; none of them has been seen by anyone. */
  | { type: 'mint'; pool: PoolName; amount: number }
  /** One run; with `series`, also added to that series (slices of one round, see `series`). */
  | { type: 'load'; scenario: LoadScenario; duration?: number; amount?: number; series?: string }
  /** The slices added to a series so far, as one round (latencies merged); the series restarts. */
  | { type: 'series'; name: string }
  /** Pure Argon2id hashes at the auth server's parameters, `connections` in flight. */
  | { type: 'hash'; duration: number }
  | { type: 'stats' }

export type PoolName = 'warm' | 'cold'

export type LoadScenario =
  /** An unauthenticated GET on the resource server: the ceiling. */
  | { kind: 'open'; path: string; expectStatus: number }
  /** `GET /api/restricted/` with one token on every request. */
  | { kind: 'single' }
  /** `GET /api/restricted/` cycling through the warm pool (each connection its own slice). */
  | { kind: 'warm' }
  /** `GET /api/restricted/`, every request with a token from the cold pool never sent before. */
  | { kind: 'cold' }
  /** `POST /api/token/verify/` cycling through the warm pool. */
  | { kind: 'verify' }
  /** `POST /api/token/refresh/`, each connection following its own rotation chain. */
  | { kind: 'refresh' }
  /** `POST /api/token/` with the users' passwords. */
  | { kind: 'login' }

export interface Credentials {
  username: string
  password: string
}

/** One measured round. Latencies in milliseconds, taken per response in the load process. */
export interface RoundResult {
  requests: number
  seconds: number
  rps: number
  p50: number
  p99: number
  /** Connection errors, timeouts and answers with another status than the scenario expects. */
  errors: number
  statuses: Record<string, number>
  /** CPU the server under test used per answered request (set by the runner), in µs. */
  serverCpuMicros?: number
  /** CPU the load generator used per answered request, setting up included, in µs. */
  loadCpuMicros?: number
}

export interface LoadStats {
  warm: number
  cold: number
  coldUsed: number
  chains: number
  /** Refresh tokens sent, and how many of them were distinct: they must be equal. */
  refreshTokensSent: number
  refreshTokensDistinct: number
  /** Access tokens sent on cold requests, and how many were distinct: they must be equal. */
  coldTokensSent: number
  coldTokensDistinct: number
}

export type LoadReply =
  | { ok: true; round?: RoundResult; stats?: LoadStats; count?: number }
  | { ok: false; error: string }
