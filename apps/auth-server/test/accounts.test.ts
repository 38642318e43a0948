import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestApp,
  login,
  PASSWORD,
  register,
  type TestApp,
  uniqueUsername,
} from './helpers.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => {
  await t.close()
})

describe('POST /api/register/', () => {
  it('creates an account that can log in', async () => {
    const username = uniqueUsername()
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/register/',
      payload: { username, password: PASSWORD, email: 'ada@example.com' },
    })
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(body).toEqual({ id: expect.any(String), username })
    expect(body).not.toHaveProperty('password')
    await expect(login(t.app, username)).resolves.toHaveProperty('access')
  })

  it('answers 409 for a taken username, whatever its case, and keeps the first password', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/register/',
      payload: { username: username.toUpperCase(), password: 'another password' },
    })
    expect(response.statusCode).toBe(409)
    expect(response.json()).toEqual({
      detail: 'A user with that username already exists.',
      code: 'username_taken',
    })
    await expect(login(t.app, username)).resolves.toHaveProperty('access')
  })

  it.each([
    [{ password: PASSWORD }, 'username', 'This field is required.'],
    [{ username: 'ok_name', password: 'short' }, 'password', 'at least 8'],
    [{ username: 'ok_name', password: 'x'.repeat(257) }, 'password', 'no more than 256'],
    [{ username: 'has space', password: PASSWORD }, 'username', 'Enter a valid username'],
    [{ username: 'ok_name', password: PASSWORD, email: 'not-an-email' }, 'email', 'valid email'],
    [{ username: 'x'.repeat(151), password: PASSWORD }, 'username', 'no more than 150'],
  ])('rejects %j with a message on %s', async (payload, field, message) => {
    const response = await t.app.inject({ method: 'POST', url: '/api/register/', payload })
    expect(response.statusCode).toBe(400)
    expect(response.json()[field]?.join(' ')).toContain(message)
  })

  it('answers 403 when registration is closed', async () => {
    const closed = await createTestApp({ REGISTRATION_ENABLED: 'false' }, { database: t.database })
    try {
      const response = await closed.app.inject({
        method: 'POST',
        url: '/api/register/',
        payload: { username: uniqueUsername(), password: PASSWORD },
      })
      expect(response.statusCode).toBe(403)
      expect(response.json().code).toBe('permission_denied')
    } finally {
      await closed.close()
    }
  })
})

describe('GET /api/me', () => {
  it('answers the account of the access token', async () => {
    const { username, id } = await register(t.app)
    const { access } = await login(t.app, username)
    const response = await t.app.inject({
      url: '/api/me',
      headers: { authorization: `Bearer ${access}` },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ id, username, email: null })
    expect(response.json()).not.toHaveProperty('passwordHash')
    expect(response.json()).not.toHaveProperty('password_hash')
  })

  it('answers 401 not_authenticated without credentials, with a Bearer challenge', async () => {
    const response = await t.app.inject({ url: '/api/me' })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('not_authenticated')
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/)
  })

  it('answers 401 invalid_token for a refresh token, a Basic header or garbage', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    for (const authorization of [
      `Bearer ${pair.refresh}`,
      'Bearer not.a.jwt',
      'Bearer ',
      `Bearer ${pair.access} extra`,
    ]) {
      const response = await t.app.inject({ url: '/api/me', headers: { authorization } })
      expect(response.statusCode, authorization).toBe(401)
      expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/)
    }
    const basic = await t.app.inject({
      url: '/api/me',
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    })
    expect(basic.statusCode).toBe(401)
    expect(basic.json().code).toBe('not_authenticated')
  })

  it('answers 401 once the access token expires', async () => {
    const { username } = await register(t.app)
    const { access } = await login(t.app, username)
    t.clock.advance(301_000)
    const response = await t.app.inject({
      url: '/api/me',
      headers: { authorization: `Bearer ${access}` },
    })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('token_not_valid')
  })
})

describe('passwords', () => {
  it('rehashes a hash made with weaker parameters on the next login', async () => {
    const weak = await createTestApp(
      {},
      {
        database: t.database,
        passwordParameters: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      },
    )
    const { username, id } = await register(weak.app)
    await weak.close()
    const before = await t.app.accounts.findById(Number(id))
    expect(before?.passwordHash).toContain('m=1024,t=1,p=1')
    await login(t.app, username)
    const after = await t.app.accounts.findById(Number(id))
    expect(after?.passwordHash).toContain('m=19456,t=2,p=1')
    await expect(login(t.app, username)).resolves.toHaveProperty('access')
  })

  it('ends every session when the password changes', async () => {
    const { username, id } = await register(t.app)
    const pair = await login(t.app, username)
    await t.app.accounts.changePassword(Number(id), 'a brand new password')
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      payload: { refresh: pair.refresh },
    })
    expect(response.statusCode).toBe(401)
    await expect(login(t.app, username)).rejects.toThrow()
    await expect(login(t.app, username, 'a brand new password')).resolves.toHaveProperty('access')
  })
})
