import { randomUUID } from 'node:crypto'
import type { DatabaseHandle } from '@tessera/db'
import { createTestDatabase } from '@tessera/db/testing'
import type { FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { type AppDeps, buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'

export const AUTH_URL = 'https://auth.test'

export interface TestClock {
  now(): number
  advance(ms: number): void
}

/** A clock tests move by hand: expiry without sleeping. */
export function createTestClock(start = Date.now()): TestClock {
  let current = start
  return {
    now: () => current,
    advance(ms) {
      current += ms
    },
  }
}

export interface Issuer {
  kid: string
  jwk: JWK
  /** An access token as the auth server would mint it, at the clock's time. */
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  /** An injected fetch serving this issuer's JWKS. */
  fetch: typeof fetch
}

/** A stand-in auth server for route tests: a key pair, its JWKS, a token minter. */
export async function createIssuer(clock: TestClock): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true })
  const kid = randomUUID()
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' }
  return {
    kid,
    jwk,
    token(claims = {}, header = {}) {
      const now = Math.floor(clock.now() / 1000)
      return new SignJWT({
        iss: AUTH_URL,
        aud: 'tessera',
        sub: '1',
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
        sid: randomUUID(),
        scope: 'notes:read notes:write',
        token_type: 'access',
        ...claims,
      })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid, ...header })
        .sign(privateKey)
    },
    fetch: async () =>
      new Response(JSON.stringify({ keys: [jwk] }), {
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' },
      }),
  }
}

export interface TestResourceServer {
  app: FastifyInstance
  database: DatabaseHandle
  clock: TestClock
  issuer: Issuer
  close(): Promise<void>
}

/**
 * A resource server on a fresh database (PGlite in memory, or a throwaway PostgreSQL database
 * with DATABASE_URL) trusting a stand-in issuer. Share one per test file.
 */
export async function createTestResourceServer(
  env: Record<string, string> = {},
  deps: AppDeps = {},
): Promise<TestResourceServer> {
  const clock = createTestClock()
  const issuer = await createIssuer(clock)
  const database = await createTestDatabase()
  const config = loadConfig({ AUTH_URL, LOG_LEVEL: 'silent', ...env })
  const app = await buildApp(config, { clock: clock.now, fetch: issuer.fetch, database, ...deps })
  return {
    app,
    database,
    clock,
    issuer,
    async close() {
      await app.close()
      await database.close()
    },
  }
}
