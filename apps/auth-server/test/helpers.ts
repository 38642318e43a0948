import type { DatabaseHandle } from '@tessera/db'
import { createTestDatabase } from '@tessera/db/testing'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { type AppDependencies, buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'

export const ISSUER = 'http://tessera.test'
export const PASSWORD = 'correct horse battery staple'

/** A clock tests move by hand: expiry without sleeping. */
export interface TestClock {
  now(): number
  advance(ms: number): void
}

export function createTestClock(start = Date.now()): TestClock {
  let t = start
  return {
    now: () => t,
    advance(ms) {
      t += ms
    },
  }
}

export interface TestApp {
  app: FastifyInstance
  database: DatabaseHandle
  clock: TestClock
  close(): Promise<void>
}

/**
 * An auth server on a fresh database (PGlite in memory, or a throwaway PostgreSQL database when
 * DATABASE_URL is set), with a hand-moved clock. Share one per test file: PGlite starts in ~2 s.
 */
export async function createTestApp(
  env: Record<string, string | undefined> = {},
  deps: AppDependencies & { database?: DatabaseHandle } = {},
): Promise<TestApp> {
  const database = deps.database ?? (await createTestDatabase())
  const clock = createTestClock()
  const config = loadConfig({
    ISSUER,
    RATE_LIMIT_LOGIN_PER_MINUTE: '0',
    LOG_LEVEL: 'silent',
    ...env,
  })
  let app: FastifyInstance
  try {
    app = await buildApp(config, { clock: clock.now, logger: false, ...deps, database })
  } catch (error) {
    if (!deps.database) await database.close()
    throw error
  }
  return {
    app,
    database,
    clock,
    async close() {
      await app.close()
      if (!deps.database) await database.close()
    },
  }
}

let counter = 0
/** A username no other test in this process uses. */
export function uniqueUsername(prefix = 'user'): string {
  counter += 1
  return `${prefix}${counter}_${Math.random().toString(36).slice(2, 8)}`
}

export async function register(app: FastifyInstance, username = uniqueUsername()) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/register/',
    payload: { username, password: PASSWORD },
  })
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.body}`)
  return { username, id: response.json().id as string }
}

export async function login(app: FastifyInstance, username: string, password = PASSWORD) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/token/',
    payload: { username, password },
  })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`)
  return response.json() as { refresh: string; access: string }
}

export function refresh(app: FastifyInstance, token: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: token } })
}

export function decodeJwt(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [header, payload] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')),
  }
}
