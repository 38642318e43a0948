import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ACCESS_TOKEN_ALGORITHMS } from '@tessera/claims'
import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'

const Seconds = (fallback: number, minimum = 1) =>
  Type.Integer({ minimum, maximum: 10 * 365 * 86_400, default: fallback })
const Secret = Type.String({ minLength: 32 })

/**
 * `<repo>/.data/auth-server`, whether run from `src/` (tsx) or from the bundle in `dist/`: both
 * sit two levels below the repository root. A relative `DATA_DIR` is taken from the working
 * directory.
 */
export const DEFAULT_DATA_DIR = fileURLToPath(
  new URL('../../../.data/auth-server', import.meta.url),
)

/** Every environment variable the auth server reads; `.env.example` documents each one. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 4000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  ISSUER: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+[^/\\s?#]$' })),
  AUDIENCE: Type.String({ minLength: 1, default: 'tessera' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  ACCESS_TOKEN_LIFETIME_SECONDS: Seconds(300),
  REFRESH_TOKEN_LIFETIME_SECONDS: Seconds(86_400),
  SESSION_MAX_LIFETIME_SECONDS: Seconds(30 * 86_400),
  REFRESH_REUSE_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 10 }),
  REFRESH_TOKEN_SECRET: Type.Optional(Secret),
  KEY_ENCRYPTION_SECRET: Type.Optional(Secret),
  SIGNING_ALGORITHM: Type.Union(
    ACCESS_TOKEN_ALGORITHMS.filter((a) => a !== 'HS256').map((a) => Type.Literal(a)),
    { default: 'EdDSA' },
  ),
  RATE_LIMIT_LOGIN_PER_MINUTE: Type.Integer({ minimum: 0, default: 30 }),
  REGISTRATION_ENABLED: Type.Boolean({ default: true }),
  INTROSPECTION_CLIENTS: Type.Optional(
    Type.String({ pattern: '^[^:,\\s]+:[^,\\s]{16,}(,[^:,\\s]+:[^,\\s]{16,})*$' }),
  ),
  TRUST_PROXY: Type.String({
    pattern: '^(true|false|\\d+|[0-9A-Fa-f:.]+(/\\d+)?(,[0-9A-Fa-f:.]+(/\\d+)?)*)$',
    default: 'false',
  }),
  CORS_ORIGINS: Type.Optional(
    Type.String({ pattern: '^(\\*|https?://[^\\s,/]+(,https?://[^\\s,/]+)*)$' }),
  ),
  LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], { default: 'json' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
})
type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  /** Base URL clients use; `iss` of every token, character for character. */
  issuer: string
  audience: string
  databaseUrl: string | undefined
  /** PGlite data directory (absolute, or `memory://`), used when `databaseUrl` is unset. */
  dataDir: string
  redisUrl: string | undefined
  accessTokenLifetimeSeconds: number
  refreshTokenLifetimeSeconds: number
  sessionMaxLifetimeSeconds: number
  refreshReuseGraceSeconds: number
  refreshTokenSecret: string | undefined
  keyEncryptionSecret: string | undefined
  signingAlgorithm: 'EdDSA' | 'ES256'
  loginRateLimitPerMinute: number
  registrationEnabled: boolean
  introspectionClients: ReadonlyMap<string, string>
  /** Fastify's `trustProxy`: off, on (any hop: only behind a proxy that overwrites XFF), a hop count, or proxy addresses. */
  trustProxy: boolean | number | string
  /** Browser origins allowed to call the API (CORS); empty: no CORS headers at all. */
  corsOrigins: readonly string[]
  logLevel: string
  /** `pretty` needs the pino-pretty dev dependency: for `pnpm dev`, not production. */
  logFormat: 'json' | 'pretty'
}

/** A configuration variable is missing or malformed; the message names each one. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'CONFIG_INVALID'
  readonly problems: readonly string[]

  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.problems = problems
  }
}

const validator = Compile(EnvSchema)

const HINTS: Partial<Record<keyof Env, string>> = {
  PORT: 'an integer from 0 to 65535',
  ISSUER:
    'an http(s) URL without a trailing slash, query or fragment, e.g. https://auth.example.com',
  TRUST_PROXY: 'true, false, a hop count, or comma-separated proxy addresses/CIDRs',
  DATABASE_URL: 'a postgres:// URL',
  REDIS_URL: 'a redis:// URL',
  REFRESH_TOKEN_SECRET: 'at least 32 characters (openssl rand -base64 48)',
  KEY_ENCRYPTION_SECRET: 'at least 32 characters (openssl rand -base64 48)',
  SIGNING_ALGORITHM: 'EdDSA or ES256',
  REFRESH_REUSE_GRACE_SECONDS: 'an integer from 0 to 300',
  INTROSPECTION_CLIENTS: 'a comma-separated list of id:secret pairs, secrets of 16+ characters',
  LOG_FORMAT: 'json or pretty',
  CORS_ORIGINS: 'a comma-separated list of origins like https://app.example.com (no path), or *',
  LOG_LEVEL: 'one of fatal, error, warn, info, debug, trace, silent',
}

/**
 * Reads the environment once, at the edge: unknown values are coerced from strings, defaults
 * applied, and every problem reported together, naming the variable.
 *
 * @example
 * const config = loadConfig(process.env)
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    raw[name] = coerce(value, schema as { type?: string })
  }
  const withDefaults = { ...defaults(), ...raw }
  for (const error of validator.Errors(withDefaults)) {
    const name = error.instancePath.replace(/^\//, '') as keyof Env
    if (!name) continue
    problems.push(
      `${name} must be ${HINTS[name] ?? error.message} (got ${describe(name, env[name])})`,
    )
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)])
  const e = withDefaults as Env
  const host = e.HOST
  const publicHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return Object.freeze({
    port: e.PORT,
    host,
    issuer: e.ISSUER ?? `http://${publicHost}:${e.PORT}`,
    audience: e.AUDIENCE,
    databaseUrl: e.DATABASE_URL,
    dataDir: !e.DATA_DIR
      ? DEFAULT_DATA_DIR
      : e.DATA_DIR === 'memory://'
        ? e.DATA_DIR
        : resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    accessTokenLifetimeSeconds: e.ACCESS_TOKEN_LIFETIME_SECONDS,
    refreshTokenLifetimeSeconds: e.REFRESH_TOKEN_LIFETIME_SECONDS,
    sessionMaxLifetimeSeconds: e.SESSION_MAX_LIFETIME_SECONDS,
    refreshReuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
    refreshTokenSecret: e.REFRESH_TOKEN_SECRET,
    keyEncryptionSecret: e.KEY_ENCRYPTION_SECRET,
    signingAlgorithm: e.SIGNING_ALGORITHM as 'EdDSA' | 'ES256',
    loginRateLimitPerMinute: e.RATE_LIMIT_LOGIN_PER_MINUTE,
    registrationEnabled: e.REGISTRATION_ENABLED,
    introspectionClients: new Map(
      (e.INTROSPECTION_CLIENTS ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const at = pair.indexOf(':')
          return [pair.slice(0, at), pair.slice(at + 1)] as const
        }),
    ),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',') : [],
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT as 'json' | 'pretty',
  })
}

// Secrets and URLs that may embed a password are never echoed, only their length.
function describe(name: string, value: string | undefined): string {
  if (value === undefined) return 'nothing'
  if (/SECRET|CLIENTS|_URL$/.test(name)) return `${value.length} characters`
  return JSON.stringify(value)
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true
  if (value === 'false') return false
  if (/^\d+$/.test(value)) return Number(value)
  return value
}

function defaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const fallback = (schema as { default?: unknown }).default
    if (fallback !== undefined) out[name] = fallback
  }
  return out
}

function coerce(value: string, schema: { type?: string }): unknown {
  if (schema.type === 'integer') return /^-?\d+$/.test(value.trim()) ? Number(value) : value
  if (schema.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(value)) return true
    if (/^(0|false|no|off)$/i.test(value)) return false
  }
  return value
}
