import { createHmac, createPublicKey, verify } from 'node:crypto'
import { signingKeys } from '@tessera/db'
import { createTestDatabase } from '@tessera/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, decodeJwt, login, register, type TestApp } from './helpers.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => {
  await t.close()
})

interface PublicJwk {
  kid: string
  kty: string
  alg: string
  use: string
  [member: string]: unknown
}

async function jwks(app: TestApp['app']): Promise<PublicJwk[]> {
  const response = await app.inject({ url: '/.well-known/jwks.json' })
  expect(response.statusCode).toBe(200)
  return response.json().keys
}

const me = (app: TestApp['app'], access: string) =>
  app.inject({ url: '/api/me', headers: { authorization: `Bearer ${access}` } })

describe('GET /.well-known/jwks.json', () => {
  it('publishes the current and the standby key, public members only', async () => {
    const keys = await jwks(t.app)
    expect(keys).toHaveLength(2)
    expect(new Set(keys.map((k) => k.kid)).size).toBe(2)
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', use: 'sig', alg: 'EdDSA' })
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x'])
    }
  })

  it('lets a cache keep the keys for a while', async () => {
    const response = await t.app.inject({ url: '/.well-known/jwks.json' })
    expect(response.headers['cache-control']).toMatch(/max-age=\d+/)
  })

  it('signs access tokens with a published key whose alg matches the header', async () => {
    const { username } = await register(t.app)
    const { access } = await login(t.app, username)
    const { header } = decodeJwt(access)
    const key = (await jwks(t.app)).find((k) => k.kid === header.kid)
    expect(key?.alg).toBe(header.alg)
    const [h, p, s] = access.split('.')
    const publicKey = createPublicKey({ key: key as never, format: 'jwk' })
    expect(verify(null, Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, 'base64url'))).toBe(
      true,
    )
  })

  it('publishes no key that verifies a refresh token', async () => {
    const { username } = await register(t.app)
    const { refresh } = await login(t.app, username)
    const [h, p, s] = refresh.split('.')
    for (const key of await jwks(t.app)) {
      const publicKey = createPublicKey({ key: key as never, format: 'jwk' })
      const signature = Buffer.from(s!, 'base64url')
      expect(verify(null, Buffer.from(`${h}.${p}`), publicKey, signature)).toBe(false)
    }
  })
})

describe('key rotation', () => {
  it('promotes the standby key, keeps old tokens valid, and revocation ends them', async () => {
    const { username } = await register(t.app)
    const before = await login(t.app, username)
    const oldKid = decodeJwt(before.access).header.kid as string
    const { current, standby } = await t.app.keys.rotate()
    expect(current).not.toBe(oldKid)
    const published = (await jwks(t.app)).map((k) => k.kid)
    expect(published).toEqual(expect.arrayContaining([oldKid, current, standby]))

    const after = await login(t.app, username)
    expect(decodeJwt(after.access).header.kid).toBe(current)
    expect((await me(t.app, before.access)).statusCode).toBe(200)
    expect((await me(t.app, after.access)).statusCode).toBe(200)

    await t.app.keys.revoke(oldKid)
    expect((await jwks(t.app)).map((k) => k.kid)).not.toContain(oldKid)
    expect((await me(t.app, before.access)).statusCode).toBe(401)
    expect((await me(t.app, after.access)).statusCode).toBe(200)
  })

  it('refuses to revoke the current key', async () => {
    const [current] = (await t.app.keys.list()).filter((k) => k.state === 'current')
    await expect(t.app.keys.revoke(current!.kid)).rejects.toThrow(/rotate first/)
  })

  it('lets a second instance on the same database pick up a rotation', async () => {
    const second = await createTestApp({}, { database: t.database })
    try {
      const { current } = await t.app.keys.rotate()
      const { username } = await register(t.app)
      const { access } = await login(t.app, username)
      expect(decodeJwt(access).header.kid).toBe(current)
      // The second instance has never seen this kid: it reloads instead of refusing.
      expect((await me(second.app, access)).statusCode).toBe(200)
    } finally {
      await second.close()
    }
  })
})

describe('algorithm pinning', () => {
  it('rejects alg none and an HS256 token MACed with the public key', async () => {
    const { username } = await register(t.app)
    const { access } = await login(t.app, username)
    const { header, payload } = decodeJwt(access)
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const none = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`
    expect((await me(t.app, none)).statusCode).toBe(401)

    const key = (await jwks(t.app)).find((k) => k.kid === header.kid)
    const pem = createPublicKey({ key: key as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString()
    const signingInput = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`
    const confused = `${signingInput}.${createHmac('sha256', pem).update(signingInput).digest('base64url')}`
    expect((await me(t.app, confused)).statusCode).toBe(401)
  })

  it('rejects a token whose typ is not at+jwt', async () => {
    const { username } = await register(t.app)
    const { access } = await login(t.app, username)
    const [, p, s] = access.split('.')
    const { header } = decodeJwt(access)
    const relabelled = `${Buffer.from(JSON.stringify({ ...header, typ: 'JWT' })).toString('base64url')}.${p}.${s}`
    expect((await me(t.app, relabelled)).statusCode).toBe(401)
  })
})

describe('SIGNING_ALGORITHM=ES256', () => {
  it('signs with P-256 keys and publishes them as EC JWKs', async () => {
    const es = await createTestApp({ SIGNING_ALGORITHM: 'ES256' })
    try {
      const { username } = await register(es.app)
      const { access } = await login(es.app, username)
      expect(decodeJwt(access).header.alg).toBe('ES256')
      const keys = await jwks(es.app)
      expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
      expect((await me(es.app, access)).statusCode).toBe(200)
    } finally {
      await es.close()
    }
  })
})

describe('KEY_ENCRYPTION_SECRET', () => {
  it('stores private keys encrypted, and a wrong secret stops the start with a clear error', async () => {
    const database = await createTestDatabase()
    try {
      const sealed = await createTestApp({ KEY_ENCRYPTION_SECRET: 'k'.repeat(40) }, { database })
      await sealed.close()
      const rows = await database.db.select().from(signingKeys)
      expect(rows.length).toBeGreaterThan(0)
      for (const row of rows) {
        expect(row.privateKey.startsWith('enc:v1:')).toBe(true)
        expect(row.privateKey).not.toContain('PRIVATE KEY')
      }
      await expect(
        createTestApp({ KEY_ENCRYPTION_SECRET: 'w'.repeat(40) }, { database }),
      ).rejects.toThrow(/does not open with KEY_ENCRYPTION_SECRET/)
    } finally {
      await database.close()
    }
  })
})
