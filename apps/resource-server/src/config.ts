import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isVerifyAlgorithm, type VerifyAlgorithm } from '@tessera/verify'
import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

const HttpUrl = Type.String({ pattern: '^https?://[^\\s]+$' })

/** The environment the resource server reads; every variable is optional. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 4001 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  AUTH_URL: Type.String({ ...HttpUrl, default: 'http://127.0.0.1:4000' }),
  JWKS_URL: Type.Optional(HttpUrl),
  ALLOW_INSECURE_JWKS: Type.Boolean({ default: false }),
  ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  AUDIENCE: Type.String({ minLength: 1, default: 'tessera' }),
  ALGORITHMS: Type.String({ pattern: '^(EdDSA|ES256)(,(EdDSA|ES256))*$', default: 'EdDSA,ES256' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], { default: 'json' }),
  NOTES_MAX_PER_USER: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1_000 }),
})
export type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  /** Base URL of the auth server, without a trailing slash. */
  authUrl: string
  /** https, or http to a loopback host (or anywhere with `ALLOW_INSECURE_JWKS=true`). */
  jwksUrl: string
  /** Expected `iss`; the auth server's issuer, character for character. */
  issuer: string
  audience: string
  algorithms: readonly VerifyAlgorithm[]
  /** PostgreSQL when set, else embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined
  /** PGlite data directory (absolute), or `memory://`. */
  dataDir: string
  logLevel: LogLevel
  /** `pretty` needs the dev dependency pino-pretty (`pnpm dev` sets it). */
  logFormat: 'json' | 'pretty'
  /** Notes one token subject may keep; one more answers 403 `note_limit_reached`. */
  notesMaxPerUser: number
}

/**
 * `<repo>/.data/resource-server`, beside the auth server's `<repo>/.data/auth-server`, whether
 * run from `src/` (tsx) or from the bundle in `dist/`: both sit two levels below the repository
 * root. A relative `DATA_DIR` is taken from the working directory.
 */
export const DEFAULT_DATA_DIR = fileURLToPath(
  new URL('../../../.data/resource-server', import.meta.url),
)

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'

  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/**
 * Reads the environment once, at the edge, into a frozen `Config`. Empty variables count as
 * unset; a relative `DATA_DIR` is taken from the working directory.
 *
 * @example
 * const config = loadConfig(process.env)
 */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = env[name]?.trim()
    if (value) raw[name] = value
  }
  // A copy: Default and Convert change what they are given, and errors show what was read.
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, { ...raw }))
  // Value.Convert truncates "1.5" to 1: an integer variable must be written as one.
  const names = Object.entries(EnvSchema.properties as Record<string, { type?: unknown }>)
    .filter(
      ([name, schema]) => schema.type === 'integer' && !/^-?\d+$/.test(String(raw[name] ?? 0)),
    )
    .map(([name]) => name)
  for (const error of Value.Errors(EnvSchema, converted)) {
    names.push(error.instancePath.slice(1) || '(environment)')
  }
  if (names.length > 0) {
    const lines = names.map((name) => `${name} ${describe(name)} (got ${shown(name, raw[name])})`)
    throw new ConfigError(`Invalid environment:\n  ${[...new Set(lines)].join('\n  ')}`)
  }
  const parsed = converted as Env
  const authUrl = parsed.AUTH_URL.replace(/\/+$/, '')
  const jwksUrl = parsed.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`
  const problem = jwksUrlProblem(jwksUrl, parsed.ALLOW_INSECURE_JWKS)
  if (problem !== undefined) {
    const name = parsed.JWKS_URL === undefined ? 'AUTH_URL' : 'JWKS_URL'
    throw new ConfigError(
      `Invalid environment:\n  ${name} ${problem} (got ${shown(name, raw[name])})`,
    )
  }
  return Object.freeze({
    port: parsed.PORT,
    host: parsed.HOST,
    authUrl,
    jwksUrl,
    issuer: parsed.ISSUER ?? authUrl,
    audience: parsed.AUDIENCE,
    algorithms: Object.freeze([...new Set(parsed.ALGORITHMS.split(','))].filter(isVerifyAlgorithm)),
    databaseUrl: parsed.DATABASE_URL,
    dataDir:
      parsed.DATA_DIR === undefined
        ? DEFAULT_DATA_DIR
        : parsed.DATA_DIR === 'memory://'
          ? 'memory://'
          : resolve(parsed.DATA_DIR),
    logLevel: parsed.LOG_LEVEL,
    logFormat: parsed.LOG_FORMAT,
    notesMaxPerUser: parsed.NOTES_MAX_PER_USER,
  })
}

/**
 * Why the JWKS URL is not acceptable, if it is not. The keys decide who may call this API: read
 * over plain http, anyone on the path could swap them. Plain http stays allowed to a loopback
 * host (a local auth server, tests), or anywhere when the operator says so.
 */
function jwksUrlProblem(jwksUrl: string, allowInsecure: boolean): string | undefined {
  let url: URL
  try {
    url = new URL(jwksUrl)
  } catch {
    return 'must be an http(s) URL'
  }
  if (url.protocol === 'https:' || allowInsecure || isLoopback(url.hostname)) return undefined
  return 'must be an https URL, unless its host is loopback (127.0.0.0/8, ::1, localhost) or ALLOW_INSECURE_JWKS=true'
}

/** `hostname` as the URL parser normalises it: IPv4 in dotted decimal, IPv6 in brackets. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname)
}

const DESCRIPTIONS: Record<string, string> = {
  PORT: 'must be an integer from 0 to 65535',
  HOST: 'must be a host name or address',
  AUTH_URL: 'must be an http(s) URL',
  JWKS_URL: 'must be an http(s) URL',
  ALLOW_INSECURE_JWKS: 'must be true or false',
  ISSUER: 'must not be empty',
  AUDIENCE: 'must not be empty',
  ALGORITHMS: 'must be a comma-separated list of EdDSA and ES256',
  DATABASE_URL: 'must be a postgres:// URL',
  DATA_DIR: 'must be a directory or memory://',
  LOG_LEVEL: `must be one of ${LOG_LEVELS.join(', ')}`,
  LOG_FORMAT: 'must be json or pretty',
  NOTES_MAX_PER_USER: 'must be an integer from 1 to 1000000',
}

function describe(name: string): string {
  return DESCRIPTIONS[name] ?? 'is invalid'
}

// A database URL may embed a password: only its length is shown.
function shown(name: string, value: unknown): string {
  if (typeof value !== 'string') return 'nothing'
  return name === 'DATABASE_URL' ? `${value.length} characters` : JSON.stringify(value)
}
