import { serverSecrets, signingKeys } from '@tessera/db'
import { createTestDatabase } from '@tessera/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestApp,
  decodeJwt,
  login,
  PASSWORD,
  register,
  type TestApp,
  uniqueUsername,
} from './helpers.ts'

let t: TestApp
let access: string

beforeAll(async () => {
  t = await createTestApp()
  const { username } = await register(t.app)
  access = (await login(t.app, username)).access
})
afterAll(async () => {
  await t.close()
})

const POST_ROUTES = [
  '/api/token/',
  '/api/token/refresh/',
  '/api/token/verify/',
  '/api/token/blacklist/',
  '/api/register/',
  '/oauth/token',
  '/oauth/revoke',
  '/oauth/introspect',
]
const FIELDS = [
  'username',
  'password',
  'email',
  'refresh',
  'token',
  'scope',
  'grant_type',
  'refresh_token',
]

const HOSTILE_VALUES: [string, unknown][] = [
  ['a NUL byte', 'a\u0000b'],
  ['a lone surrogate', '\ud800x'],
  ['an oversized string', 'x'.repeat(300_000)],
  ['an array', ['a', 'b']],
  ['a number', 12345],
  ['an object', { nested: true }],
  ['null', null],
  ['true', true],
]

describe('hostile input on every POST route', () => {
  it.each(POST_ROUTES)('%s answers every hostile JSON field with a 4xx', async (url) => {
    for (const [label, value] of HOSTILE_VALUES) {
      const payload = Object.fromEntries(FIELDS.map((field) => [field, value]))
      const response = await t.app.inject({ method: 'POST', url, payload })
      expect(response.statusCode, `${url} with ${label}`).toBeLessThan(500)
      expect(response.body).not.toMatch(/stack|Drizzle|postgres|at [A-Za-z]+ \(/i)
    }
  })

  it.each(POST_ROUTES)('%s answers hostile form bodies with a 4xx', async (url) => {
    for (const body of [
      'username=a%00b&password=x&grant_type=password&token=a%00&refresh=a%00',
      'username=a&username=b&password=x&password=y&grant_type=password',
      'username=%zz&password=%&grant_type=%E0%A4%A',
      '=&&=&username',
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
      })
      expect(response.statusCode, `${url} with ${body}`).toBeLessThan(500)
    }
  })

  it.each(POST_ROUTES)('%s answers __proto__ and constructor keys with 400', async (url) => {
    for (const payload of [
      '{"__proto__": {"admin": true}}',
      '{"constructor": {"prototype": {}}}',
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload,
      })
      expect(response.statusCode, `${url} with ${payload}`).toBe(400)
    }
  })

  it('refuses a username given as an array instead of logging in as its first item', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username: [username], password: PASSWORD },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ username: ['Not a valid string.'] })
  })

  it('refuses a NUL in a username at registration and creates nothing', async () => {
    const username = `${uniqueUsername()}\u0000x`
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/register/',
      payload: { username, password: PASSWORD },
    })
    expect(response.statusCode).toBe(400)
    expect(await t.app.accounts.findByUsername(username.replace('\u0000', ''))).toBeUndefined()
  })
})

describe('hostile URLs and methods', () => {
  it.each([
    ['GET', '/api/%zz'],
    ['POST', '/oauth/%zz'],
    ['DELETE', `/api/sessions/${'a'.repeat(300)}`],
    ['PUT', '/api/token/'],
    ['PATCH', '/oauth/token'],
  ])('%s %s answers a JSON 4xx without Fastify internals', async (method, url) => {
    const response = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${access}` },
    })
    expect(response.statusCode).toBeGreaterThanOrEqual(400)
    expect(response.statusCode).toBeLessThan(500)
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    expect(response.body).not.toContain('FST_')
  })

  it('answers HEAD and OPTIONS without a 5xx', async () => {
    for (const method of ['HEAD', 'OPTIONS'] as const) {
      for (const url of ['/api/token/', '/.well-known/jwks.json', '/api/me']) {
        const response = await t.app.inject({ method, url })
        expect(response.statusCode, `${method} ${url}`).toBeLessThan(500)
      }
    }
  })

  it('answers odd Authorization headers with 401', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer  ',
      `Bearer ${'A'.repeat(100_000)}`,
      'Bearer é.é.é',
      `bearer ${access}`.replace(/\./g, '..'),
      'Token abc',
    ]) {
      const response = await t.app.inject({ url: '/api/me', headers: { authorization } })
      expect(response.statusCode, authorization.slice(0, 40)).toBe(401)
    }
  })
})

describe('login rate limit across routes', () => {
  it('counts /api/token/, the password grant and registration against one budget per IP', async () => {
    const limited = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '3' },
      { database: t.database },
    )
    try {
      const remoteAddress = '192.0.2.44'
      const statuses = [
        await limited.app.inject({
          method: 'POST',
          url: '/api/token/',
          remoteAddress,
          payload: { username: 'nobody', password: 'wrong password' },
        }),
        await limited.app.inject({
          method: 'POST',
          url: '/oauth/token',
          remoteAddress,
          payload: { grant_type: 'password', username: 'nobody', password: 'wrong password' },
        }),
        await limited.app.inject({
          method: 'POST',
          url: '/api/register/',
          remoteAddress,
          payload: { username: uniqueUsername(), password: PASSWORD },
        }),
        await limited.app.inject({
          method: 'POST',
          url: '/oauth/token',
          remoteAddress,
          payload: { grant_type: 'password', username: 'nobody', password: 'wrong password' },
        }),
      ].map((r) => r.statusCode)
      expect(statuses).toEqual([401, 400, 201, 429])
    } finally {
      await limited.close()
    }
  })

  it('does not count refresh_token grants', async () => {
    const limited = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '1' },
      { database: t.database },
    )
    try {
      const { username } = await register(t.app)
      const remoteAddress = '192.0.2.45'
      const first = await limited.app.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress,
        payload: { grant_type: 'password', username, password: PASSWORD },
      })
      let token = first.json().refresh_token
      for (let i = 0; i < 3; i++) {
        const response = await limited.app.inject({
          method: 'POST',
          url: '/oauth/token',
          remoteAddress,
          payload: { grant_type: 'refresh_token', refresh_token: token },
        })
        expect(response.statusCode).toBe(200)
        token = response.json().refresh_token
      }
    } finally {
      await limited.close()
    }
  })

  it('ignores X-Forwarded-For unless TRUST_PROXY says so', async () => {
    const attempt = (app: TestApp['app'], forwardedFor: string) =>
      app.inject({
        method: 'POST',
        url: '/api/token/',
        remoteAddress: '192.0.2.60',
        headers: { 'x-forwarded-for': forwardedFor },
        payload: { username: 'nobody', password: 'wrong password' },
      })
    const direct = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '2' },
      { database: t.database },
    )
    const proxied = await createTestApp(
      { RATE_LIMIT_LOGIN_PER_MINUTE: '2', TRUST_PROXY: '1' },
      { database: t.database },
    )
    try {
      const spoofed = []
      for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
        spoofed.push((await attempt(direct.app, ip)).statusCode)
      }
      expect(spoofed).toEqual([401, 401, 429])
      const behindProxy = []
      for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
        behindProxy.push((await attempt(proxied.app, ip)).statusCode)
      }
      expect(behindProxy).toEqual([401, 401, 401])
    } finally {
      await direct.close()
      await proxied.close()
    }
  })
})

describe('key revocation across instances', () => {
  it('reaches another instance on its next key reload: it stops accepting and signing with the key', async () => {
    const other = await createTestApp({}, { database: t.database })
    try {
      const { username } = await register(t.app)
      const before = await login(other.app, username)
      const oldKid = decodeJwt(before.access).header.kid as string
      await t.app.keys.rotate()
      await t.app.keys.revoke(oldKid)
      await other.app.keys.reload()
      const me = await other.app.inject({
        url: '/api/me',
        headers: { authorization: `Bearer ${before.access}` },
      })
      expect(me.statusCode).toBe(401)
      const after = await login(other.app, username)
      expect(decodeJwt(after.access).header.kid).not.toBe(oldKid)
      const jwks = await other.app.inject({ url: '/.well-known/jwks.json' })
      expect(jwks.json().keys.map((k: { kid: string }) => k.kid)).not.toContain(oldKid)
    } finally {
      await other.close()
    }
  })
})

describe('KEY_ENCRYPTION_SECRET set after the first start', () => {
  it('seals the keys and the refresh secret that were stored in clear', async () => {
    const database = await createTestDatabase()
    try {
      const clear = await createTestApp({}, { database })
      await clear.close()
      const sealed = await createTestApp({ KEY_ENCRYPTION_SECRET: 's'.repeat(40) }, { database })
      await sealed.close()
      for (const row of await database.db.select().from(signingKeys)) {
        expect(row.privateKey.startsWith('enc:v1:')).toBe(true)
      }
      for (const row of await database.db.select().from(serverSecrets)) {
        expect(row.value.startsWith('enc:v1:')).toBe(true)
      }
    } finally {
      await database.close()
    }
  })
})
