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
      notesMaxPerUser: 1_000,
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
      JWKS_URL: 'https://internal:4000/jwks',
      AUDIENCE: 'notes-api',
      ALGORITHMS: 'EdDSA',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/rs',
      DATA_DIR: 'memory://',
      LOG_LEVEL: 'silent',
    })
    expect(config).toMatchObject({
      port: 0,
      issuer: 'https://id.example.com',
      jwksUrl: 'https://internal:4000/jwks',
      audience: 'notes-api',
      algorithms: ['EdDSA'],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/rs',
      dataDir: 'memory://',
      logLevel: 'silent',
    })
  })

  describe('the JWKS URL', () => {
    it.each([
      ['http://127.0.0.1:4000'],
      ['http://127.8.9.10:4000'],
      ['http://localhost:4000'],
      ['http://LOCALHOST:4000'],
      ['http://[::1]:4000'],
      ['https://auth.example.com'],
    ])('accepts AUTH_URL %s: https, or http to a loopback host', (authUrl) => {
      expect(loadConfig({ AUTH_URL: authUrl }).jwksUrl).toMatch(/\/\.well-known\/jwks\.json$/)
    })

    it.each([
      ['http://auth.example.com'],
      ['http://10.0.0.1:4000'],
      ['http://128.0.0.1:4000'],
      ['http://0.0.0.0:4000'],
      ['http://127.0.0.1.nip.io:4000'],
      ['http://localhost.example.com:4000'],
      ['http://[::2]:4000'],
      ['http://[::ffff:10.0.0.1]:4000'],
    ])('refuses plain http to %s, which is not loopback', (authUrl) => {
      expect(() => loadConfig({ AUTH_URL: authUrl })).toThrow(
        /AUTH_URL must be an https URL, unless its host is loopback/,
      )
    })

    it('refuses a plain http JWKS_URL to another host, naming JWKS_URL', () => {
      let error: unknown
      try {
        loadConfig({ AUTH_URL: 'https://auth.example.com', JWKS_URL: 'http://internal:4000/jwks' })
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).message).toMatch(/JWKS_URL must be an https URL/)
      expect((error as ConfigError).message).toContain('ALLOW_INSECURE_JWKS=true')
    })

    it('allows plain http anywhere with ALLOW_INSECURE_JWKS=true', () => {
      const config = loadConfig({
        JWKS_URL: 'http://internal:4000/jwks',
        ALLOW_INSECURE_JWKS: 'true',
      })
      expect(config.jwksUrl).toBe('http://internal:4000/jwks')
      expect(() =>
        loadConfig({ JWKS_URL: 'http://internal:4000/jwks', ALLOW_INSECURE_JWKS: 'false' }),
      ).toThrow(/JWKS_URL/)
      expect(() => loadConfig({ ALLOW_INSECURE_JWKS: 'yes' })).toThrow(
        /ALLOW_INSECURE_JWKS must be true or false/,
      )
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

  it('takes NOTES_MAX_PER_USER, a positive integer', () => {
    expect(loadConfig({ NOTES_MAX_PER_USER: '25' }).notesMaxPerUser).toBe(25)
    for (const bad of ['0', '-1', '1.5', 'many'])
      expect(() => loadConfig({ NOTES_MAX_PER_USER: bad }), bad).toThrow(/NOTES_MAX_PER_USER/)
  })

  it('refuses a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/)
  })

  it('refuses a fraction where an integer is expected, instead of truncating it', () => {
    expect(() => loadConfig({ PORT: '4001.5' })).toThrow(/PORT must be an integer/)
  })
})
