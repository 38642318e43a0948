import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, ISSUER, login, PASSWORD, register, type TestApp } from './helpers.ts'

let t: TestApp
const RS_SECRET = 'resource-server-secret-0123456789'

beforeAll(async () => {
  t = await createTestApp({ INTROSPECTION_CLIENTS: `notes-api:${RS_SECRET}` })
})
afterAll(async () => {
  await t.close()
})

const FORM = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' }
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

function expectOAuthError(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  error: string,
) {
  expect(response.statusCode).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/json/)
  expect(response.headers['www-authenticate']).toBeUndefined()
  expect(response.json()).toMatchObject({ error, error_description: expect.any(String) })
}

describe('POST /oauth/token', () => {
  it('grants tokens for grant_type=password with a public client_id', async () => {
    const { username } = await register(t.app)
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: 'password', username, password: PASSWORD, client_id: 'spa' }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-store')
    expect(response.json()).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 300,
      refresh_token: expect.any(String),
      scope: 'notes:read notes:write',
    })
  })

  it('rotates with grant_type=refresh_token', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: 'refresh_token', refresh_token: pair.refresh }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().refresh_token).not.toBe(pair.refresh)
  })

  it('answers invalid_grant (400) for bad credentials and dead refresh tokens', async () => {
    const { username } = await register(t.app)
    expectOAuthError(
      await t.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form({ grant_type: 'password', username, password: 'wrong password' }),
      }),
      400,
      'invalid_grant',
    )
    expectOAuthError(
      await t.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form({ grant_type: 'refresh_token', refresh_token: 'a.b.c' }),
      }),
      400,
      'invalid_grant',
    )
  })

  it('answers invalid_request, unsupported_grant_type and invalid_scope', async () => {
    const { username } = await register(t.app)
    const cases: [Record<string, string>, string][] = [
      [{ grant_type: 'password', username }, 'invalid_request'],
      [{ grant_type: 'refresh_token' }, 'invalid_request'],
      [{}, 'invalid_request'],
      [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
      [{ grant_type: 'password', username, password: PASSWORD, scope: 'admin' }, 'invalid_scope'],
    ]
    for (const [fields, error] of cases) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form(fields),
      })
      expectOAuthError(response, 400, error)
    }
  })

  it('narrows the access token to a smaller scope on refresh', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: 'refresh_token',
        refresh_token: pair.refresh,
        scope: 'notes:read',
      }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().scope).toBe('notes:read')
  })

  it('refuses to widen the scope on refresh, and rotates nothing', async () => {
    const { username } = await register(t.app)
    const granted = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: 'password', username, password: PASSWORD, scope: 'notes:read' }),
    })
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: 'refresh_token',
        refresh_token: granted.json().refresh_token,
        scope: 'notes:read notes:write',
      }),
    })
    expectOAuthError(response, 400, 'invalid_scope')
    // The refused request changed nothing: the same refresh token still rotates, later too.
    t.clock.advance(30_000)
    const retry = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: 'refresh_token', refresh_token: granted.json().refresh_token }),
    })
    expect(retry.statusCode).toBe(200)
  })

  it('answers an unknown /oauth path with an RFC 6749 body', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/oauth/authorize' })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('invalid_request')
  })

  it('answers malformed JSON with an RFC 6749 body', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json' },
      payload: '{nope',
    })
    expectOAuthError(response, 400, 'invalid_request')
  })
})

describe('POST /oauth/revoke', () => {
  it('ends the session of a refresh token and answers 200', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: FORM,
      payload: form({ token: pair.refresh, token_type_hint: 'refresh_token' }),
    })
    expect(response.statusCode).toBe(200)
    const after = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      payload: { refresh: pair.refresh },
    })
    expect(after.statusCode).toBe(401)
  })

  it('ends the session of an access token', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    await t.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: FORM,
      payload: form({ token: pair.access }),
    })
    const after = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      payload: { refresh: pair.refresh },
    })
    expect(after.statusCode).toBe(401)
  })

  it('answers 200 for unknown and already revoked tokens', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: pair.refresh },
    })
    for (const token of ['unknown', 'a.b.c', pair.refresh, pair.access]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/oauth/revoke',
        headers: FORM,
        payload: form({ token }),
      })
      expect(response.statusCode).toBe(200)
    }
  })

  it('answers invalid_request without a token', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: FORM,
      payload: form({}),
    })
    expectOAuthError(response, 400, 'invalid_request')
  })
})

describe('POST /oauth/introspect', () => {
  it('describes a live access token to an authenticated client', async () => {
    const { username, id } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { ...FORM, authorization: basic('notes-api', RS_SECRET) },
      payload: form({ token: pair.access }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      active: true,
      sub: id,
      iss: ISSUER,
      scope: 'notes:read notes:write',
      token_type: 'access_token',
      client_id: 'notes-api',
    })
  })

  it('answers active:false for a revoked session or garbage', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: pair.refresh },
    })
    for (const token of [pair.access, pair.refresh, 'garbage']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: FORM,
        payload: form({ token, client_id: 'notes-api', client_secret: RS_SECRET }),
      })
      expect(response.json()).toEqual({ active: false })
    }
  })

  it('describes the refresh token in force, and not one rotated away', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const introspect = (token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { ...FORM, authorization: basic('notes-api', RS_SECRET) },
        payload: form({ token }),
      })
    expect((await introspect(pair.refresh)).json()).toMatchObject({
      active: true,
      token_type: 'refresh_token',
    })
    const successor = await t.app.inject({
      method: 'POST',
      url: '/api/token/refresh/',
      payload: { refresh: pair.refresh },
    })
    expect((await introspect(pair.refresh)).json()).toEqual({ active: false })
    expect((await introspect(successor.json().refresh)).json().active).toBe(true)
  })

  it('decodes form-encoded Basic credentials (RFC 6749 §2.3.1)', async () => {
    const spaced = await createTestApp(
      { INTROSPECTION_CLIENTS: 'notes-api:secret+with+spaces+0123456789' },
      { database: t.database },
    )
    try {
      const response = await spaced.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: {
          ...FORM,
          authorization: basic('notes-api', 'secret%2Bwith%2Bspaces%2B0123456789'),
        },
        payload: form({ token: 'x' }),
      })
      expect(response.statusCode).toBe(200)
    } finally {
      await spaced.close()
    }
  })

  it('answers invalid_client (401) without or with wrong credentials', async () => {
    for (const authorization of [
      undefined,
      basic('notes-api', 'wrong-secret-0123456789'),
      basic('nobody', RS_SECRET),
      'Basic %%%',
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { ...FORM, ...(authorization ? { authorization } : {}) },
        payload: form({ token: 'x' }),
      })
      expect(response.statusCode).toBe(401)
      expect(response.json().error).toBe('invalid_client')
      if (authorization) expect(response.headers['www-authenticate']).toMatch(/^Basic/)
    }
  })
})

describe('GET /.well-known/oauth-authorization-server', () => {
  it('publishes RFC 8414 metadata whose issuer is exactly the configured one', async () => {
    const response = await t.app.inject({ url: '/.well-known/oauth-authorization-server' })
    expect(response.statusCode).toBe(200)
    const metadata = response.json()
    expect(metadata.issuer).toBe(ISSUER)
    expect(metadata.token_endpoint).toBe(`${ISSUER}/oauth/token`)
    expect(metadata.revocation_endpoint).toBe(`${ISSUER}/oauth/revoke`)
    expect(metadata.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`)
    expect(metadata.grant_types_supported).toEqual(['password', 'refresh_token'])
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['none'])
    expect(metadata.response_types_supported).toEqual([])
  })
})
