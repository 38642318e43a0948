import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestResourceServer, type TestResourceServer } from './helpers.ts'

let t: TestResourceServer

beforeAll(async () => {
  t = await createTestResourceServer()
})
afterAll(async () => {
  await t.close()
})

describe('GET /api/restricted/', () => {
  it('answers the seed message to any valid access token', async () => {
    const response = await t.app.inject({
      url: '/api/restricted/',
      headers: { authorization: `Bearer ${await t.issuer.token({ scope: '' })}` },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ message: 'You have access to this restricted content.' })
  })

  it('answers without the trailing slash too', async () => {
    const response = await t.app.inject({
      url: '/api/restricted',
      headers: { authorization: `Bearer ${await t.issuer.token()}` },
    })
    expect(response.statusCode).toBe(200)
  })

  it('answers 401 not_authenticated with WWW-Authenticate: Bearer without a token', async () => {
    const response = await t.app.inject({ url: '/api/restricted/' })
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expect(response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
      code: 'not_authenticated',
    })
  })

  it('answers 401 invalid_token to a token that expired on the clock', async () => {
    const token = await t.issuer.token()
    const ok = await t.app.inject({
      url: '/api/restricted/',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(ok.statusCode).toBe(200)
    t.clock.advance(311_000)
    const response = await t.app.inject({
      url: '/api/restricted/',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The token has expired"',
    )
    expect(response.json()).toMatchObject({
      detail: 'Given token not valid for any token type',
      code: 'token_not_valid',
    })
  })

  it('does not answer other methods', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/restricted/',
      headers: { authorization: `Bearer ${await t.issuer.token()}` },
    })
    expect(response.statusCode).toBe(404)
  })
})

describe('unknown routes', () => {
  it('answer 404 JSON', async () => {
    const response = await t.app.inject({ url: '/nope' })
    expect(response.statusCode).toBe(404)
    expect(response.headers['content-type']).toMatch(/application\/json/)
    expect(response.json()).toEqual({ detail: 'Not found.', code: 'not_found' })
  })
})
