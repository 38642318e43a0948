import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.ts'
import { createTestApp, PASSWORD, register, type TestApp, uniqueUsername } from './helpers.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => {
  await t.close()
})

describe('GET /health/live and /health/ready', () => {
  it('answers ok while the database answers', async () => {
    expect((await t.app.inject({ url: '/health/live' })).json()).toEqual({ status: 'ok' })
    const ready = await t.app.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok' } })
  })

  it('answers 503 without internals when the database is gone', async () => {
    const doomed = await createTestApp()
    try {
      await doomed.database.close()
      const ready = await doomed.app.inject({ url: '/health/ready' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json()).toEqual({ status: 'unavailable', checks: { database: 'unreachable' } })
      // A request that needs the database answers a generic 500, never the driver's message.
      const login = await doomed.app.inject({
        method: 'POST',
        url: '/api/token/',
        payload: { username: 'a', password: 'b' },
      })
      expect(login.statusCode).toBe(500)
      expect(login.json()).toEqual({ detail: 'Internal server error.', code: 'internal_error' })
    } finally {
      await doomed.app.close()
    }
  })
})

describe('GET /docs', () => {
  it('serves the OpenAPI document generated from the route schemas', async () => {
    const response = await t.app.inject({ url: '/docs' })
    expect(response.statusCode).toBe(200)
    const doc = response.json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/token/', '/api/token/refresh/', '/oauth/token', '/api/me']),
    )
  })
})

describe('login rate limit', () => {
  it('answers 429 with Retry-After after RATE_LIMIT_LOGIN_PER_MINUTE attempts', async () => {
    const limited = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '3' },
      { database: t.database },
    )
    try {
      const statuses: number[] = []
      let last: Awaited<ReturnType<typeof limited.app.inject>> | undefined
      for (let i = 0; i < 5; i++) {
        last = await limited.app.inject({
          method: 'POST',
          url: '/api/token/',
          remoteAddress: '203.0.113.7',
          payload: { username: uniqueUsername('rl'), password: 'wrong password' },
        })
        statuses.push(last.statusCode)
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429])
      expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0)
      expect(last?.json().code).toBe('throttled')
      // Another client is not affected.
      const other = await limited.app.inject({
        method: 'POST',
        url: '/api/token/',
        remoteAddress: '203.0.113.8',
        payload: { username: uniqueUsername('rl'), password: 'wrong password' },
      })
      expect(other.statusCode).toBe(401)
    } finally {
      await limited.close()
    }
  })

  if (process.env.REDIS_URL) {
    it('shares counters between two instances through Redis', async () => {
      const ip = `198.51.100.${Math.floor(Math.random() * 250)}`
      const env = { RATE_LIMIT_LOGIN_PER_MINUTE: '2', REDIS_URL: process.env.REDIS_URL }
      const a = await createTestApp(env, { database: t.database })
      const b = await createTestApp(env, { database: t.database })
      try {
        const attempt = (app: TestApp['app']) =>
          app.inject({
            method: 'POST',
            url: '/api/token/',
            remoteAddress: ip,
            payload: { username: uniqueUsername('rl'), password: 'wrong password' },
          })
        expect((await attempt(a.app)).statusCode).toBe(401)
        expect((await attempt(b.app)).statusCode).toBe(401)
        expect((await attempt(a.app)).statusCode).toBe(429)
        expect((await attempt(b.app)).statusCode).toBe(429)
      } finally {
        await a.close()
        await b.close()
      }
    })
  }

  it('does not limit refreshes', async () => {
    const limited = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '1' },
      { database: t.database },
    )
    try {
      const { username } = await register(t.app)
      const first = await limited.app.inject({
        method: 'POST',
        url: '/api/token/',
        payload: { username, password: PASSWORD },
      })
      let token = first.json().refresh
      for (let i = 0; i < 3; i++) {
        const response = await limited.app.inject({
          method: 'POST',
          url: '/api/token/refresh/',
          payload: { refresh: token },
        })
        expect(response.statusCode).toBe(200)
        token = response.json().refresh
      }
    } finally {
      await limited.close()
    }
  })
})

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      issuer: 'http://127.0.0.1:4000',
      audience: 'tessera',
      accessTokenLifetimeSeconds: 300,
      refreshTokenLifetimeSeconds: 86_400,
      refreshReuseGraceSeconds: 10,
      signingAlgorithm: 'EdDSA',
    })
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('names every bad variable at once and never echoes a secret', () => {
    let error: unknown
    try {
      loadConfig({
        PORT: 'eighty',
        ISSUER: 'https://auth.example.com/',
        REFRESH_TOKEN_SECRET: 'hunter2',
        REFRESH_REUSE_GRACE_SECONDS: '-1',
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    for (const name of ['PORT', 'ISSUER', 'REFRESH_TOKEN_SECRET', 'REFRESH_REUSE_GRACE_SECONDS']) {
      expect(message).toContain(name)
    }
    expect(message).not.toContain('hunter2')
  })

  it('turns REFRESH_REUSE_GRACE_SECONDS=0 into no grace at all', async () => {
    const strict = await createTestApp(
      { REFRESH_REUSE_GRACE_SECONDS: '0' },
      { database: t.database },
    )
    try {
      const { username } = await register(strict.app)
      const pair = (
        await strict.app.inject({
          method: 'POST',
          url: '/api/token/',
          payload: { username, password: PASSWORD },
        })
      ).json()
      const first = await strict.app.inject({
        method: 'POST',
        url: '/api/token/refresh/',
        payload: { refresh: pair.refresh },
      })
      expect(first.statusCode).toBe(200)
      // Same millisecond: with the window off even an instant replay is reuse.
      const replay = await strict.app.inject({
        method: 'POST',
        url: '/api/token/refresh/',
        payload: { refresh: pair.refresh },
      })
      expect(replay.statusCode).toBe(401)
      const successor = await strict.app.inject({
        method: 'POST',
        url: '/api/token/refresh/',
        payload: { refresh: first.json().refresh },
      })
      expect(successor.statusCode).toBe(401)
    } finally {
      await strict.close()
    }
  })
})

describe('DATA_DIR', () => {
  it('keeps memory:// as the in-memory database and resolves a relative path', () => {
    expect(loadConfig({ DATA_DIR: 'memory://' }).dataDir).toBe('memory://')
    expect(loadConfig({ DATA_DIR: 'some/dir' }).dataDir).toBe(`${process.cwd()}/some/dir`)
    expect(loadConfig({}).dataDir).toMatch(/\/\.data\/auth-server$/)
  })
})

describe('REDIS_URL', () => {
  it('stops the start with a message naming REDIS_URL when Redis does not answer', async () => {
    await expect(createTestApp({ REDIS_URL: 'redis://127.0.0.1:1' })).rejects.toThrow(
      /Redis at 127\.0\.0\.1:1 \(REDIS_URL\) does not answer/,
    )
  })
})

describe('CORS_ORIGINS', () => {
  it('answers a preflight from an allowed origin and ignores any other', async () => {
    const cors = await createTestApp(
      { CORS_ORIGINS: 'https://app.example.com' },
      { database: t.database },
    )
    try {
      const preflight = (origin: string) =>
        cors.app.inject({
          method: 'OPTIONS',
          url: '/api/token/refresh/',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        })
      const allowed = await preflight('https://app.example.com')
      expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com')
      expect(allowed.headers['access-control-allow-credentials']).toBeUndefined()
      const other = await preflight('https://evil.example')
      expect(other.headers['access-control-allow-origin']).toBeUndefined()
    } finally {
      await cors.close()
    }
  })

  it('sends no CORS headers when unset', async () => {
    const response = await t.app.inject({
      url: '/health/live',
      headers: { origin: 'https://app.example.com' },
    })
    expect(response.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('rejects an origin with a path', () => {
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/login' })).toThrow(
      /CORS_ORIGINS/,
    )
  })
})
