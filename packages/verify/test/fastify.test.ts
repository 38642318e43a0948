import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractBearerToken, fastifyVerify } from '../src/fastify.ts'
import {
  type AccessTokenClaims,
  createVerifier,
  TokenInvalidError,
  type Verifier,
} from '../src/index.ts'
import {
  AUDIENCE,
  accessClaims,
  createSigner,
  fakeJwks,
  flipSignature,
  ISSUER,
  manualClock,
  NOW,
  rawToken,
  type Signer,
  T0,
} from './helpers.ts'

let ed: Signer
let app: FastifyInstance
let verifications = 0

beforeAll(async () => {
  ed = await createSigner('EdDSA', 'ed-1')
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['EdDSA'],
    keys: [ed.jwk],
    clock: () => T0,
  })
  const counting = {
    ...verifier,
    verify(token: string) {
      verifications++
      return verifier.verify(token)
    },
  }
  app = Fastify()
  await app.register(fastifyVerify, { verifier: counting })
  app.get('/open', (request) => ({ auth: request.auth }))
  app.get('/me', { onRequest: app.authenticate }, (request) => ({ sub: request.auth!.sub }))
  app.get('/pre', { preHandler: app.authenticate }, (request) => ({ sub: request.auth!.sub }))
  app.get('/read', { onRequest: app.requireScopes('notes:read') }, () => ({ ok: true }))
  app.get('/write', { onRequest: [app.authenticate, app.requireScopes('notes:write')] }, () => ({
    ok: true,
  }))
  app.get('/both', { onRequest: app.requireScopes('notes:read', 'notes:write') }, () => ({
    ok: true,
  }))
  await app.ready()
})

afterAll(async () => {
  await app.close()
})

function get(url: string, authorization?: string) {
  return app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} })
}

describe('authenticate', () => {
  it('sets request.auth to the verified claims', async () => {
    const response = await get('/me', `Bearer ${await ed.sign({ sub: '7' })}`)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ sub: '7' })
  })

  it('works as a preHandler too', async () => {
    const response = await get('/pre', `Bearer ${await ed.sign({ sub: '8' })}`)
    expect(response.json()).toEqual({ sub: '8' })
  })

  it('accepts the scheme in any case', async () => {
    expect((await get('/me', `bearer ${await ed.sign()}`)).statusCode).toBe(200)
    expect((await get('/me', `BEARER ${await ed.sign()}`)).statusCode).toBe(200)
  })

  it('verifies a token once and answers later requests from the cache', async () => {
    const token = await ed.sign()
    const before = verifications
    for (let i = 0; i < 5; i++) expect((await get('/me', `Bearer ${token}`)).statusCode).toBe(200)
    expect(verifications - before).toBe(1)
  })

  it('leaves request.auth null on routes without the hook', async () => {
    const response = await get('/open', `Bearer ${await ed.sign()}`)
    expect(response.json()).toEqual({ auth: null })
  })

  it('answers 401 not_authenticated with a bare Bearer challenge when no credentials are sent', async () => {
    const response = await get('/me')
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expect(response.json()).toEqual({
      detail: 'Authentication credentials were not provided.',
      code: 'not_authenticated',
    })
  })

  it('treats another scheme as no credentials', async () => {
    const response = await get('/me', 'Basic dXNlcjpwYXNz')
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('not_authenticated')
  })

  it.each([['Bearer'], ['Bearer '], ['Bearer  two-spaces'], ['Bearer a b']])(
    'answers 401 invalid_token to the malformed header %j',
    async (header) => {
      const response = await get('/me', header)
      expect(response.statusCode).toBe(401)
      expect(response.headers['www-authenticate']).toBe(
        'Bearer error="invalid_token", error_description="Authorization header must contain two space-delimited values"',
      )
      expect(response.json().code).toBe('token_not_valid')
    },
  )

  it('answers 401 with RFC 6750 header and simplejwt body for an invalid token', async () => {
    const response = await get('/me', `Bearer ${flipSignature(await ed.sign())}`)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The token signature is invalid"',
    )
    expect(response.json()).toEqual({
      detail: 'Given token not valid for any token type',
      code: 'token_not_valid',
      messages: [
        {
          token_class: 'AccessToken',
          token_type: 'access',
          message: 'The token signature is invalid',
        },
      ],
    })
  })

  it('answers 401 for an expired token', async () => {
    const response = await get('/me', `Bearer ${await ed.sign({ exp: NOW - 3600 })}`)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toContain(
      'error_description="The token has expired"',
    )
  })

  it('answers 401 for alg none', async () => {
    const token = rawToken({ alg: 'none', typ: 'at+jwt', kid: ed.kid }, accessClaims())
    const response = await get('/me', `Bearer ${token}`)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"')
  })

  it('answers 401 to a request that sends garbage as the token', async () => {
    const response = await get('/me', `Bearer ${'x'.repeat(10_000)}`)
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('token_not_valid')
  })
})

describe('requireScopes', () => {
  it('lets a token with the scope through, authenticating on its own', async () => {
    const response = await get('/read', `Bearer ${await ed.sign({ scope: 'notes:read' })}`)
    expect(response.statusCode).toBe(200)
  })

  it('answers 403 insufficient_scope naming the missing scope', async () => {
    const response = await get('/write', `Bearer ${await ed.sign({ scope: 'notes:read' })}`)
    expect(response.statusCode).toBe(403)
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="notes:write"',
    )
    expect(response.json()).toEqual({
      detail: 'This action requires the scope "notes:write".',
      code: 'insufficient_scope',
    })
  })

  it('demands every listed scope', async () => {
    const readOnly = await get('/both', `Bearer ${await ed.sign({ scope: 'notes:read' })}`)
    expect(readOnly.statusCode).toBe(403)
    expect(readOnly.headers['www-authenticate']).toContain('scope="notes:read notes:write"')
    const both = await get('/both', `Bearer ${await ed.sign({ scope: 'notes:write notes:read' })}`)
    expect(both.statusCode).toBe(200)
  })

  it('does not take a scope prefix for the scope', async () => {
    const response = await get('/read', `Bearer ${await ed.sign({ scope: 'notes:readonly' })}`)
    expect(response.statusCode).toBe(403)
  })

  it('answers 403 to a cached token that lacks the scope', async () => {
    const token = await ed.sign({ scope: '' })
    expect((await get('/me', `Bearer ${token}`)).statusCode).toBe(200)
    expect((await get('/read', `Bearer ${token}`)).statusCode).toBe(403)
  })

  it('answers 401, not 403, without credentials', async () => {
    expect((await get('/read')).statusCode).toBe(401)
  })

  it('refuses to build a guard without a valid scope token', () => {
    expect(() => app.requireScopes()).toThrow(TypeError)
    expect(() => app.requireScopes('a b')).toThrow(TypeError)
    expect(() => app.requireScopes('say"hi')).toThrow(TypeError)
  })
})

describe('an unreachable JWKS with nothing cached', () => {
  it('answers 503 service_unavailable, not 401', async () => {
    const jwks = fakeJwks([])
    jwks.down = true
    const down = Fastify({ logger: false })
    await down.register(fastifyVerify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['EdDSA'],
      jwksUrl: 'http://auth.test/.well-known/jwks.json',
      fetch: jwks.fetch,
      clock: () => T0,
    })
    down.get('/me', { onRequest: down.authenticate }, () => ({ ok: true }))
    const response = await down.inject({
      url: '/me',
      headers: { authorization: `Bearer ${await ed.sign()}` },
    })
    await down.close()
    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBe('5')
    expect(response.json()).toEqual({
      detail: 'Token verification is temporarily unavailable.',
      code: 'service_unavailable',
    })
  })
})

describe('an auth server gone for longer than maxStaleMs', () => {
  it('answers 503 service_unavailable once the last good keys are dropped', async () => {
    const jwks = fakeJwks([ed.jwk])
    const clock = manualClock()
    const app = Fastify({ logger: false })
    await app.register(fastifyVerify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['EdDSA'],
      jwksUrl: 'http://auth.test/.well-known/jwks.json',
      fetch: jwks.fetch,
      clock: clock.now,
      jwks: { maxStaleMs: 60_000 },
    })
    app.get('/me', { onRequest: app.authenticate }, () => ({ ok: true }))
    const me = async (claims: Record<string, unknown>) =>
      app.inject({ url: '/me', headers: { authorization: `Bearer ${await ed.sign(claims)}` } })
    expect((await me({})).statusCode).toBe(200)
    jwks.down = true
    clock.advance(300_000 + 60_000)
    const late = { iat: NOW + 360, exp: NOW + 660 }
    const response = await me(late)
    await app.close()
    expect(response.statusCode).toBe(503)
    expect(response.json().code).toBe('service_unavailable')
  })
})

describe('an unexpected verifier failure', () => {
  it('goes to the error handler instead of hanging the request', async () => {
    const broken = Fastify()
    await broken.register(fastifyVerify, {
      verifier: {
        verify: () => Promise.reject(new Error('boom')),
        peek: () => undefined,
        clearCache: () => {},
        jwks: undefined,
      },
    })
    broken.setErrorHandler((_error, _request, reply) => {
      reply.code(500).send({ detail: 'A server error occurred.', code: 'internal_error' })
    })
    broken.get('/me', { onRequest: broken.authenticate }, () => ({ ok: true }))
    const response = await broken.inject({ url: '/me', headers: { authorization: 'Bearer a.b.c' } })
    await broken.close()
    expect(response.statusCode).toBe(500)
    expect(response.json().code).toBe('internal_error')
  })
})

describe('a custom verifier returning claims without scope', () => {
  async function appWith(verifier: Verifier) {
    const custom = Fastify()
    await custom.register(fastifyVerify, { verifier })
    custom.setErrorHandler((_error, _request, reply) => {
      reply.code(500).send({ detail: 'A server error occurred.', code: 'internal_error' })
    })
    custom.get('/read', { onRequest: custom.requireScopes('notes:read') }, () => ({ ok: true }))
    return custom
  }
  const noScope = Object.freeze({ sub: '1' }) as unknown as AccessTokenClaims

  it('answers 500 through the error handler instead of hanging (verified now)', async () => {
    const custom = await appWith({
      verify: async () => noScope,
      peek: () => undefined,
      clearCache: () => {},
      jwks: undefined,
    })
    const response = await custom.inject({
      url: '/read',
      headers: { authorization: 'Bearer a.b.c' },
    })
    await custom.close()
    expect(response.statusCode).toBe(500)
    expect(response.json().code).toBe('internal_error')
  }, 5_000)

  it('answers 500 through the error handler (from the cache)', async () => {
    const custom = await appWith({
      verify: async () => noScope,
      peek: () => noScope,
      clearCache: () => {},
      jwks: undefined,
    })
    const response = await custom.inject({
      url: '/read',
      headers: { authorization: 'Bearer a.b.c' },
    })
    await custom.close()
    expect(response.statusCode).toBe(500)
  }, 5_000)
})

describe('a custom verifier rejecting with its own message', () => {
  it('cannot break out of the WWW-Authenticate quoted string', async () => {
    const custom = Fastify()
    await custom.register(fastifyVerify, {
      verifier: {
        verify: () =>
          Promise.reject(new TokenInvalidError('CLAIMS_INVALID', 'bad "quote"\r\nX-Evil: 1\\')),
        peek: () => undefined,
        clearCache: () => {},
        jwks: undefined,
      },
    })
    custom.get('/me', { onRequest: custom.authenticate }, () => ({ ok: true }))
    const response = await custom.inject({ url: '/me', headers: { authorization: 'Bearer a.b.c' } })
    await custom.close()
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="bad quoteX-Evil: 1"',
    )
    expect(response.headers['x-evil']).toBeUndefined()
  })
})

describe('a custom verifier making up messages without end', () => {
  it('memoises at most 100 answers, so its messages cannot grow memory', async () => {
    const custom = Fastify()
    await custom.register(fastifyVerify, {
      verifier: {
        verify: (token) =>
          Promise.reject(new TokenInvalidError('CLAIMS_INVALID', `made up for ${token}`)),
        peek: () => undefined,
        clearCache: () => {},
        jwks: undefined,
      },
    })
    const bodies: unknown[] = []
    custom.addHook('preSerialization', async (_request, _reply, payload) => {
      bodies.push(payload)
      return payload
    })
    custom.get('/me', { onRequest: custom.authenticate }, () => ({ ok: true }))
    const answer = async (token: string) => {
      const response = await custom.inject({
        url: '/me',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(response.statusCode).toBe(401)
      return bodies.at(-1)
    }
    for (let i = 0; i < 200; i++) await answer(`t${i}`)
    // An early message was memoised: the same answer object again. A late one, past the bound,
    // is built afresh each time.
    expect(await answer('t0')).toBe(await answer('t0'))
    expect(await answer('t199')).not.toBe(await answer('t199'))
    expect(await answer('t199')).toEqual(await answer('t199'))
    await custom.close()
  })
})

describe('extractBearerToken', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['Basic abc', undefined],
    ['Bearerabc', undefined],
    ['Bearer', ''],
    ['Bearer ', ''],
    ['Bearer a.b.c', 'a.b.c'],
    ['bEaReR a.b.c', 'a.b.c'],
    ['BEARER a.b.c', 'a.b.c'],
    ['bearer a.b.c', 'a.b.c'],
    ['Bearex a.b.c', undefined],
    ['Beare a.b.c', undefined],
    ['Bearer\ta.b.c', undefined],
    ['Bearer\u00a0a.b.c', undefined],
    // `| 0x20` folds the case of the letters and must not turn anything else into them.
    ['\u0002earer a.b.c', undefined],
    ['BEARE\u0012 a.b.c', undefined],
    ['Bearer a b', ''],
    ['Bearer  a', ''],
  ])('reads %j as %j', (header, token) => {
    expect(extractBearerToken(header)).toBe(token)
  })
})
