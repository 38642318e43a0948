import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_DATA_DIR, loadConfig } from '../src/config.ts'

describe('loadConfig', () => {
  it('defaults to port 4001 and the auth server at 127.0.0.1:4000', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 4001,
      host: '127.0.0.1',
      authUrl: 'http://127.0.0.1:4000',
      jwksUrl: 'http://127.0.0.1:4000/.well-known/jwks.json',
      issuer: 'http://127.0.0.1:4000',
      audience: 'tessera',
      algorithms: ['EdDSA', 'ES256'],
      databaseUrl: undefined,
      dataDir: DEFAULT_DATA_DIR,
      logLevel: 'info',
      logFormat: 'json',
    })
    expect(DEFAULT_DATA_DIR).toBe(
      fileURLToPath(new URL('../../../.data/resource-server', import.meta.url)),
    )
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('derives the JWKS URL and issuer from AUTH_URL, without a trailing slash', () => {
    const config = loadConfig({ AUTH_URL: 'https://auth.example.com/' })
    expect(config.jwksUrl).toBe('https://auth.example.com/.well-known/jwks.json')
    expect(config.issuer).toBe('https://auth.example.com')
  })

  it('takes explicit ISSUER, JWKS_URL, AUDIENCE, ALGORITHMS and DATABASE_URL', () => {
    const config = loadConfig({
      PORT: '0',
      ISSUER: 'https://id.example.com',
      JWKS_URL: 'http://internal:4000/jwks',
      AUDIENCE: 'notes-api',
      ALGORITHMS: 'EdDSA',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/rs',
      DATA_DIR: 'memory://',
      LOG_LEVEL: 'silent',
    })
    expect(config).toMatchObject({
      port: 0,
      issuer: 'https://id.example.com',
      jwksUrl: 'http://internal:4000/jwks',
      audience: 'notes-api',
      algorithms: ['EdDSA'],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/rs',
      dataDir: 'memory://',
      logLevel: 'silent',
    })
  })

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({
      port: 4001,
      databaseUrl: undefined,
    })
  })

  it('names every bad variable in one error', () => {
    let error: unknown
    try {
      loadConfig({ PORT: 'http', AUTH_URL: 'ftp://x', ALGORITHMS: 'HS256', LOG_LEVEL: 'loud' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    for (const name of ['PORT', 'AUTH_URL', 'ALGORITHMS', 'LOG_LEVEL'])
      expect(message).toContain(name)
    expect((error as ConfigError).code).toBe('CONFIG_INVALID')
  })

  it('does not echo a bad DATABASE_URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/app' })).toThrow(
      /DATABASE_URL must be a postgres:\/\/ URL \(got 27 characters\)/,
    )
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/app' })).not.toThrow(/hunter2/)
  })

  it('refuses a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/)
  })
})
