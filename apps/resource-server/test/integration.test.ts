import { createHmac } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { DatabaseHandle } from '@tessera/db'
import { createTestDatabase } from '@tessera/db/testing'
import type { FastifyInstance } from 'fastify'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { createTestClock } from './helpers.ts'

/**
 * The real auth server and the resource server, both listening on ephemeral ports, sharing one
 * hand-moved clock. The issuer is a name of its own (tokens say it, the resource server pins it)
 * while AUTH_URL points at wherever the auth server happens to listen.
 */
const ISSUER = 'http://auth.tessera.test'

// The auth server is loaded by a computed name so this package's typecheck does not take in its
// sources: its Fastify augmentation declares `authenticate` and `request.auth` too, with other
// types than @tessera/verify's, and the two cannot live in one program.
interface AuthServerApp extends FastifyInstance {
  keys: { rotate(): Promise<{ current: string; standby: string }> }
}
interface AuthServerPackage {
  loadConfig(env: Record<string, string | undefined>): unknown
  buildApp(config: unknown, deps: Record<string, unknown>): Promise<AuthServerApp>
}
const AUTH_SERVER_PACKAGE: string = '@tessera/auth-server'
const { buildApp: buildAuthServer, loadConfig: loadAuthConfig } = (await import(
  AUTH_SERVER_PACKAGE
)) as AuthServerPackage
const PASSWORD = 'correct horse battery staple'

const clock = createTestClock()
let authDb: DatabaseHandle
let resourceDb: DatabaseHandle
let auth: AuthServerApp
let authUrl: string
let resource: FastifyInstance
let resourceUrl: string
let jwksFetches = 0
let authStopped = false

function urlOf(app: FastifyInstance): string {
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function startAuthServer(env: Record<string, string> = {}): Promise<AuthServerApp> {
  const config = loadAuthConfig({
    ISSUER,
    ACCESS_TOKEN_LIFETIME_SECONDS: '3600',
    RATE_LIMIT_LOGIN_PER_MINUTE: '0',
    LOG_LEVEL: 'silent',
    ...env,
  })
  return buildAuthServer(config, { clock: clock.now, database: authDb, logger: false })
}

beforeAll(async () => {
  ;[authDb, resourceDb] = await Promise.all([createTestDatabase(), createTestDatabase()])
  auth = await startAuthServer()
  await auth.listen({ port: 0, host: '127.0.0.1' })
  authUrl = urlOf(auth)
  const config = loadConfig({ AUTH_URL: authUrl, ISSUER, LOG_LEVEL: 'silent' })
  resource = await buildApp(config, {
    clock: clock.now,
    database: resourceDb,
    // The real fetch, counted: every JWKS request goes over HTTP to the auth server.
    fetch: (input, init) => {
      jwksFetches++
      return fetch(input, init)
    },
  })
  await resource.listen({ port: 0, host: '127.0.0.1' })
  resourceUrl = urlOf(resource)
})

afterAll(async () => {
  await resource?.close()
  if (!authStopped) await auth?.close()
  await Promise.all([authDb?.close(), resourceDb?.close()])
})

let users = 0
async function register(app: FastifyInstance = auth): Promise<string> {
  users++
  const username = `user${users}_${Math.random().toString(36).slice(2, 8)}`
  const response = await app.inject({
    method: 'POST',
    url: '/api/register/',
    payload: { username, password: PASSWORD },
  })
  expect(response.statusCode).toBe(201)
  return username
}

async function login(
  username: string,
  scope?: string,
  app: FastifyInstance = auth,
): Promise<{ access: string; refresh: string }> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/token/',
    payload: { username, password: PASSWORD, ...(scope === undefined ? {} : { scope }) },
  })
  expect(response.statusCode).toBe(200)
  return response.json()
}

async function newAccessToken(scope?: string): Promise<string> {
  return (await login(await register(), scope)).access
}

function get(path: string, token?: string): Promise<Response> {
  return fetch(`${resourceUrl}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  })
}

function send(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${resourceUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

function decode(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [header, payload] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function authJwks(): Promise<JWK[]> {
  const response = await fetch(`${authUrl}/.well-known/jwks.json`)
  return ((await response.json()) as { keys: JWK[] }).keys
}

async function expectInvalidToken(token: string, description: string): Promise<void> {
  const response = await get('/api/restricted/', token)
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe(
    `Bearer error="invalid_token", error_description="${description}"`,
  )
  expect(await response.json()).toMatchObject({
    detail: 'Given token not valid for any token type',
    code: 'token_not_valid',
  })
}

describe('GET /api/restricted/ with tokens from the real auth server', () => {
  it('opens with an access token from POST /api/token/', async () => {
    const response = await get('/api/restricted/', await newAccessToken())
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      message: 'You have access to this restricted content.',
    })
    expect(jwksFetches).toBeGreaterThanOrEqual(1)
  })

  it('answers 401 with a bare Bearer challenge without a token', async () => {
    const response = await get('/api/restricted/')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer')
  })

  it('rejects an access token once it expired on the injected clock', async () => {
    const token = await newAccessToken()
    expect((await get('/api/restricted/', token)).status).toBe(200)
    clock.advance(3_600_000 + 11_000)
    await expectInvalidToken(token, 'The token has expired')
  })

  it('rejects a token of another issuer signed with the real keys', async () => {
    const impostor = await startAuthServer({ ISSUER: 'http://impostor.test' })
    try {
      const token = (await login(await register(impostor), undefined, impostor)).access
      expect(decode(token).payload.iss).toBe('http://impostor.test')
      await expectInvalidToken(token, 'The token was issued by another issuer')
    } finally {
      await impostor.close()
    }
  })

  it('rejects a token for another audience signed with the real keys', async () => {
    const other = await startAuthServer({ AUDIENCE: 'billing' })
    try {
      const token = (await login(await register(other), undefined, other)).access
      expect(decode(token).payload.aud).toBe('billing')
      await expectInvalidToken(token, 'The token is meant for another audience')
    } finally {
      await other.close()
    }
  })

  it('rejects the refresh token presented as a bearer token', async () => {
    const { refresh } = await login(await register())
    await expectInvalidToken(refresh, 'The token algorithm is not allowed')
  })

  it('rejects alg none carrying real claims and the real kid', async () => {
    const { header, payload } = decode(await newAccessToken())
    const token = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`
    await expectInvalidToken(token, 'The token algorithm is not allowed')
  })

  it('rejects a real token with one signature bit flipped', async () => {
    const token = await newAccessToken()
    const dot = token.lastIndexOf('.')
    const signature = Buffer.from(token.slice(dot + 1), 'base64url')
    signature[0]! ^= 0x80
    await expectInvalidToken(
      `${token.slice(0, dot + 1)}${signature.toString('base64url')}`,
      'The token signature is invalid',
    )
  })

  it('rejects a token signed by a foreign key that names the real kid', async () => {
    const { header, payload } = decode(await newAccessToken())
    const { privateKey } = await generateKeyPair('EdDSA')
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: header.kid as string })
      .sign(privateKey)
    await expectInvalidToken(token, 'The token signature is invalid')
  })

  it('rejects HS256 signed with the published public key, in every encoding', async () => {
    const { header, payload } = decode(await newAccessToken())
    const jwk = (await authJwks()).find((key) => key.kid === header.kid)!
    const pem = await exportSPKI((await importJWK(jwk, 'EdDSA')) as CryptoKey)
    const secrets = [Buffer.from(jwk.x!, 'base64url'), jwk.x!, JSON.stringify(jwk), pem]
    for (const secret of secrets) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })}.${b64(payload)}`
      const mac = createHmac('sha256', secret).update(input).digest('base64url')
      await expectInvalidToken(`${input}.${mac}`, 'The token algorithm is not allowed')
    }
  })

  it('rejects an embedded jwk header even when the token verifies against it', async () => {
    const { header, payload } = decode(await newAccessToken())
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true })
    const token = await new SignJWT(payload)
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: 'at+jwt',
        kid: header.kid as string,
        jwk: await exportJWK(publicKey),
      })
      .sign(privateKey)
    await expectInvalidToken(token, 'The token header carries a member that is not allowed')
  })
})

describe('scopes with tokens from the real auth server', () => {
  it('answers 403 insufficient_scope to a notes:read token that writes', async () => {
    const token = await newAccessToken('notes:read')
    expect(decode(token).payload.scope).toBe('notes:read')
    expect((await get('/api/notes/', token)).status).toBe(200)
    const response = await send('POST', '/api/notes/', token, { title: 'nope' })
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    expect(response.headers.get('www-authenticate')).toContain('scope="notes:write"')
    expect(await response.json()).toMatchObject({ code: 'insufficient_scope' })
  })

  it('answers 403 to a notes:write token that reads', async () => {
    const response = await get('/api/notes/', await newAccessToken('notes:write'))
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toContain('scope="notes:read"')
  })
})

describe('/api/notes with tokens from the real auth server', () => {
  it('keeps each user’s notes to themselves', async () => {
    const alice = await newAccessToken()
    const bob = await newAccessToken()
    const created = await send('POST', '/api/notes', alice, { title: 'alice’s', body: 'private' })
    expect(created.status).toBe(201)
    const note = (await created.json()) as { id: string }

    expect((await get(`/api/notes/${note.id}`, alice)).status).toBe(200)
    expect((await get(`/api/notes/${note.id}`, bob)).status).toBe(404)
    expect(
      (await send('PATCH', `/api/notes/${note.id}`, bob, { title: 'bob was here' })).status,
    ).toBe(404)
    expect((await send('DELETE', `/api/notes/${note.id}`, bob)).status).toBe(404)
    expect(((await (await get('/api/notes', bob)).json()) as { notes: unknown[] }).notes).toEqual(
      [],
    )

    const patched = await send('PATCH', `/api/notes/${note.id}/`, alice, { body: 'edited' })
    expect(await patched.json()).toMatchObject({ title: 'alice’s', body: 'edited' })
    expect((await send('DELETE', `/api/notes/${note.id}/`, alice)).status).toBe(204)
    expect((await get(`/api/notes/${note.id}`, alice)).status).toBe(404)
  })

  it('stores the owner as the token subject', async () => {
    const token = await newAccessToken()
    const created = (await (await send('POST', '/api/notes', token, { title: 'x' })).json()) as {
      id: string
    }
    const rows = await resourceDb.db.query.notes.findFirst({
      where: (notes, { eq }) => eq(notes.id, created.id),
    })
    expect(rows?.ownerId).toBe(decode(token).payload.sub)
  })

  it('answers 4xx to bad ids and bodies', async () => {
    const token = await newAccessToken()
    expect((await get('/api/notes/not-a-uuid', token)).status).toBe(400)
    expect((await send('POST', '/api/notes', token, { title: '' })).status).toBe(400)
    expect((await send('POST', '/api/notes', token, { nope: 1 })).status).toBe(400)
    const malformed = await fetch(`${resourceUrl}/api/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"title":',
    })
    expect(malformed.status).toBe(400)
    const huge = await fetch(`${resourceUrl}/api/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'x', body: 'y'.repeat(2 * 1024 * 1024) }),
    })
    expect(huge.status).toBe(413)
  })
})

describe('key rotation on the auth server', () => {
  it('is picked up without a restart: an unknown kid makes the resource server refetch', async () => {
    expect((await get('/api/restricted/', await newAccessToken())).status).toBe(200)
    const known = resource.verifier.jwks!.status().kids
    // Twice: the first promotes the standby key the resource server already knows.
    await auth.keys.rotate()
    const { current } = await auth.keys.rotate()
    expect(known).not.toContain(current)

    const token = await newAccessToken()
    expect(decode(token).header.kid).toBe(current)
    const before = jwksFetches
    clock.advance(5_000) // the JWKS cooldown since the last fetch
    const response = await get('/api/restricted/', token)
    expect(response.status).toBe(200)
    expect(jwksFetches).toBe(before + 1)
    expect(resource.verifier.jwks!.status().kids).toContain(current)
  })
})

describe('an auth server outage', () => {
  it('does not stop the resource server from verifying tokens with its cached keys', async () => {
    // Minted while the auth server is up, never shown to the resource server before.
    const tokens = await Promise.all([newAccessToken(), newAccessToken(), newAccessToken()])
    const withUnknownKid = await (async () => {
      const { header, payload } = decode(tokens[0]!)
      const { privateKey } = await generateKeyPair('EdDSA')
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: `${header.kid}-new` })
        .sign(privateKey)
    })()
    await auth.close()
    authStopped = true
    expect(
      await fetch(`${authUrl}/.well-known/jwks.json`).then(
        () => 'up',
        () => 'down',
      ),
    ).toBe('down')

    // Past the JWKS max-age (300 s): each request sets off a refetch that fails, and the last
    // good keys keep serving.
    const before = jwksFetches
    for (const token of tokens) {
      clock.advance(400_000)
      expect((await get('/api/restricted/', token)).status).toBe(200)
    }
    expect(jwksFetches).toBeGreaterThan(before)
    await expect(resource.verifier.jwks!.refresh()).rejects.toThrow(/Could not fetch the JWKS/)
    expect(resource.verifier.jwks!.status().lastError).toBeDefined()
    expect((await get('/api/restricted/', tokens[2]!)).status).toBe(200)
    const write = await send('POST', '/api/notes', tokens[1]!, {
      title: 'written during the outage',
    })
    expect(write.status).toBe(201)

    // An unknown kid during the outage is still a 401, not a 5xx.
    clock.advance(5_000)
    const response = await get('/api/restricted/', await withUnknownKid)
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })
})
