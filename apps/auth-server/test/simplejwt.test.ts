import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestApp,
  decodeJwt,
  ISSUER,
  login,
  PASSWORD,
  refresh,
  register,
  type TestApp,
  uniqueUsername,
} from './helpers.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp({ REFRESH_REUSE_GRACE_SECONDS: '10' })
})
afterAll(async () => {
  await t.close()
})

describe('POST /api/token/', () => {
  it('issues a pair for a JSON body', async () => {
    const { username, id } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username, password: PASSWORD },
    })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-store')
    const body = response.json()
    expect(Object.keys(body).sort()).toEqual(['access', 'refresh'])
    const access = decodeJwt(body.access)
    expect(access.header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' })
    expect(access.header.kid).toBeTypeOf('string')
    expect(access.payload).toMatchObject({
      iss: ISSUER,
      aud: 'tessera',
      sub: id,
      token_type: 'access',
      scope: 'notes:read notes:write',
    })
    expect(access.payload.exp).toBe((access.payload.iat as number) + 300)
    const refreshToken = decodeJwt(body.refresh)
    expect(refreshToken.header).toMatchObject({ alg: 'HS256', typ: 'rt+jwt' })
    expect(refreshToken.payload).toMatchObject({ token_type: 'refresh', sub: id, ctr: 0 })
    expect(refreshToken.payload.sid).toBe(access.payload.sid)
  })

  it('issues a pair for a form body, as the seed curl sends it', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username, password: PASSWORD }).toString(),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toHaveProperty('access')
  })

  it('answers a wrong password and an unknown user with byte-identical 401s', async () => {
    const { username } = await register(t.app)
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username, password: 'not the password' },
    })
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username: uniqueUsername('ghost'), password: 'not the password' },
    })
    expect(wrong.statusCode).toBe(401)
    expect(unknown.statusCode).toBe(401)
    expect(wrong.body).toBe(unknown.body)
    expect(wrong.headers['www-authenticate']).toBe(unknown.headers['www-authenticate'])
    expect(wrong.json()).toEqual({
      detail: 'No active account found with the given credentials',
      code: 'no_active_account',
    })
  })

  it('answers a disabled account like a wrong password', async () => {
    const { username, id } = await register(t.app)
    await t.app.accounts.setActive(Number(id), false)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username, password: PASSWORD },
    })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('no_active_account')
  })

  it('lists every missing field as simplejwt does', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/token/', payload: {} })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      username: ['This field is required.'],
      password: ['This field is required.'],
    })
  })

  it('answers a POST without any body with the missing fields', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/token/' })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toHaveProperty('username')
  })

  it('rejects malformed JSON with 400 parse_error', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      headers: { 'content-type': 'application/json' },
      payload: '{"username": "a", ',
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('parse_error')
  })

  it('rejects a JSON array or a blank field with 400', async () => {
    const list = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      headers: { 'content-type': 'application/json' },
      payload: '["a"]',
    })
    expect(list.statusCode).toBe(400)
    const blank = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username: '', password: 'x' },
    })
    expect(blank.statusCode).toBe(400)
    expect(blank.json()).toEqual({ username: ['This field may not be blank.'] })
  })

  it('rejects an unsupported content type with 415', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      headers: { 'content-type': 'text/xml' },
      payload: '<user/>',
    })
    expect(response.statusCode).toBe(415)
    expect(response.json().code).toBe('unsupported_media_type')
  })

  it('rejects a body over 1 MiB with 413 and creates nothing', async () => {
    const username = uniqueUsername('big')
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/register/',
      payload: { username, password: PASSWORD, email: `${'x'.repeat(1024 * 1024)}@example.com` },
    })
    expect(response.statusCode).toBe(413)
    expect(response.json().code).toBe('request_too_large')
    expect(await t.app.accounts.findByUsername(username)).toBeUndefined()
  })

  it('refuses a scope the account does not hold', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username, password: PASSWORD, scope: 'notes:read admin' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toHaveProperty('scope')
  })

  it('narrows the token to a requested scope', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      payload: { username, password: PASSWORD, scope: 'notes:read' },
    })
    expect(decodeJwt(response.json().access).payload.scope).toBe('notes:read')
  })

  it('is reachable without the trailing slash', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/token', payload: {} })
    expect(response.statusCode).toBe(400)
  })
})

describe('POST /api/token/refresh/', () => {
  it('rotates: a new pair, and the successor refreshes again', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const first = await refresh(t.app, pair.refresh)
    expect(first.statusCode).toBe(200)
    expect(first.headers['cache-control']).toBe('no-store')
    const rotated = first.json()
    expect(rotated.refresh).not.toBe(pair.refresh)
    expect(decodeJwt(rotated.refresh).payload.ctr).toBe(1)
    expect(rotated.access).not.toBe(pair.access)
    const second = await refresh(t.app, rotated.refresh)
    expect(second.statusCode).toBe(200)
    expect(decodeJwt(second.json().refresh).payload.ctr).toBe(2)
  })

  it('returns the same successor for a replay inside the grace window', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const first = (await refresh(t.app, pair.refresh)).json()
    t.clock.advance(9_000)
    const replay = await refresh(t.app, pair.refresh)
    expect(replay.statusCode).toBe(200)
    expect(replay.json().refresh).toBe(first.refresh)
    // The successor is still the one in force: no second chain was minted.
    expect((await refresh(t.app, first.refresh)).statusCode).toBe(200)
  })

  it('rejects a reused refresh token after the window and ends the session', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const successor = (await refresh(t.app, pair.refresh)).json()
    t.clock.advance(11_000)
    const reuse = await refresh(t.app, pair.refresh)
    expect(reuse.statusCode).toBe(401)
    expect(reuse.json()).toEqual({ detail: 'Token is invalid or expired', code: 'token_not_valid' })
    expect(reuse.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/)
    // The thief and the owner are both out: the whole session ended.
    expect((await refresh(t.app, successor.refresh)).statusCode).toBe(401)
    const me = await t.app.inject({
      url: '/api/me',
      headers: { authorization: `Bearer ${successor.access}` },
    })
    expect(me.statusCode).toBe(401)
  })

  it('ends the session when a token two rotations old comes back, even in the window', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const one = (await refresh(t.app, pair.refresh)).json()
    const two = (await refresh(t.app, one.refresh)).json()
    expect((await refresh(t.app, pair.refresh)).statusCode).toBe(401)
    expect((await refresh(t.app, two.refresh)).statusCode).toBe(401)
  })

  it('yields one successor chain for 8 concurrent refreshes of one token', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => refresh(t.app, pair.refresh)),
    )
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(200))
    const successors = new Set(responses.map((r) => r.json().refresh))
    expect(successors.size).toBe(1)
    const [successor] = [...successors]
    expect(decodeJwt(successor!).payload.ctr).toBe(1)
    expect((await refresh(t.app, successor!)).statusCode).toBe(200)
  })

  it('rejects an expired refresh token', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    t.clock.advance(86_400_000 + 1_000)
    expect((await refresh(t.app, pair.refresh)).statusCode).toBe(401)
  })

  it('rejects an access token, a tampered token and garbage with 401', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const [h, p, s] = pair.refresh.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, ctr: 5 })).toString('base64url')}.${s}`
    for (const token of [pair.access, forged, 'garbage', 'a.b.c']) {
      const response = await refresh(t.app, token)
      expect(response.statusCode).toBe(401)
      expect(response.json().code).toBe('token_not_valid')
    }
  })

  it('rejects a missing refresh field with 400', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      payload: {},
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ refresh: ['This field is required.'] })
  })

  it('accepts a form body', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `refresh=${pair.refresh}`,
    })
    expect(response.statusCode).toBe(200)
  })
})

describe('POST /api/token/verify/', () => {
  it('answers 200 {} for a valid access token and for the refresh token in force', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    for (const token of [pair.access, pair.refresh]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/token/verify/',
        payload: { token },
      })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual({})
    }
  })

  it('answers 401 for an expired, tampered or rotated-away token', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const tampered = `${pair.access.slice(0, -4)}AAAA`
    await refresh(t.app, pair.refresh)
    for (const token of [tampered, pair.refresh, 'nope']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/token/verify/',
        payload: { token },
      })
      expect(response.statusCode).toBe(401)
      expect(response.json().code).toBe('token_not_valid')
    }
    t.clock.advance(301_000)
    const expired = await t.app.inject({
      method: 'POST',
      url: '/api/token/verify/',
      payload: { token: pair.access },
    })
    expect(expired.statusCode).toBe(401)
  })
})

describe('POST /api/token/blacklist/', () => {
  it('ends the session: the refresh token then answers 401', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: pair.refresh },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({})
    expect((await refresh(t.app, pair.refresh)).statusCode).toBe(401)
  })

  it('answers 401 for a refresh token whose session already ended', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const blacklist = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/token/blacklist/',
        payload: { refresh: pair.refresh },
      })
    expect((await blacklist()).statusCode).toBe(200)
    const again = await blacklist()
    expect(again.statusCode).toBe(401)
    expect(again.json().code).toBe('token_not_valid')
  })

  it('treats a rotated-away token as reuse: 401, and the session ends', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const successor = (await refresh(t.app, pair.refresh)).json()
    t.clock.advance(11_000)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: pair.refresh },
    })
    expect(response.statusCode).toBe(401)
    expect((await refresh(t.app, successor.refresh)).statusCode).toBe(401)
  })

  it('answers 401 for an invalid refresh token', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: 'x.y.z' },
    })
    expect(response.statusCode).toBe(401)
  })
})

describe('unknown routes', () => {
  it('answers 404 JSON', async () => {
    const response = await t.app.inject({ url: '/api/nothing-here' })
    expect(response.statusCode).toBe(404)
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    expect(response.json().code).toBe('not_found')
  })
})
