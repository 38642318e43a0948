import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createJwksCache,
  createVerifier,
  JwksUnavailableError,
  type TokenInvalidError,
  type Verifier,
} from '../src/index.ts'
import {
  AUDIENCE,
  createSigner,
  type FakeJwks,
  fakeJwks,
  ISSUER,
  manualClock,
  NOW,
  type Signer,
  T0,
} from './helpers.ts'

const JWKS_URL = 'http://auth.test/.well-known/jwks.json'
/** Tokens of this file live for a day, so the manual clock can move by hours. */
const DAY = { exp: NOW + 86_400 }

let ed: Signer
let next: Signer

beforeAll(async () => {
  ed = await createSigner('EdDSA', 'ed-1')
  next = await createSigner('EdDSA', 'ed-2')
})

afterEach(() => {
  vi.restoreAllMocks()
})

function setup(
  options: {
    cooldownMs?: number
    defaultMaxAgeMs?: number
    maxMaxAgeMs?: number
    maxStaleMs?: number
  } = {},
  cacheSize = 0,
) {
  const clock = manualClock()
  const jwks = fakeJwks([ed.jwk])
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['EdDSA'],
    jwksUrl: JWKS_URL,
    fetch: jwks.fetch,
    clock: clock.now,
    // The verified-token cache would hide key lookups; these tests are about the keys (those
    // about what the cache keeps across refreshes turn it on).
    cacheSize,
    jwks: options,
  })
  return { clock, jwks, verifier }
}

async function settle(): Promise<void> {
  // Lets a background refresh run to completion.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function codeOf(verifier: Verifier, token: string): Promise<string | undefined> {
  return verifier.verify(token).then(
    () => undefined,
    (error: TokenInvalidError | JwksUnavailableError) => error.code,
  )
}

describe('JWKS cache', () => {
  describe('first use', () => {
    it('fetches nothing until a token needs a key', async () => {
      const { jwks, verifier } = setup()
      expect(jwks.calls).toBe(0)
      await verifier.verify(await ed.sign(DAY))
      expect(jwks.calls).toBe(1)
    })

    it('fetches once for many concurrent first verifications (single-flight)', async () => {
      const { jwks, verifier } = setup()
      jwks.hold = true
      const tokens = await Promise.all(Array.from({ length: 20 }, () => ed.sign(DAY)))
      const pending = Promise.all(tokens.map((token) => verifier.verify(token)))
      await settle()
      jwks.release()
      expect(await pending).toHaveLength(20)
      expect(jwks.calls).toBe(1)
    })

    it('answers JWKS_UNAVAILABLE when the auth server is down and nothing is cached', async () => {
      const { jwks, verifier } = setup()
      jwks.down = true
      expect(await codeOf(verifier, await ed.sign(DAY))).toBe('JWKS_UNAVAILABLE')
    })

    it('does not retry a down auth server on every request, only after the cooldown', async () => {
      const { clock, jwks, verifier } = setup({ cooldownMs: 5_000 })
      jwks.down = true
      const token = await ed.sign(DAY)
      expect(await codeOf(verifier, token)).toBe('JWKS_UNAVAILABLE')
      expect(await codeOf(verifier, token)).toBe('JWKS_UNAVAILABLE')
      expect(jwks.calls).toBe(1)
      jwks.down = false
      clock.advance(5_000)
      expect(await codeOf(verifier, token)).toBeUndefined()
      expect(jwks.calls).toBe(2)
    })
  })

  describe('unknown kid', () => {
    it('picks up a key added on the issuer by refetching', async () => {
      const { clock, jwks, verifier } = setup({ cooldownMs: 5_000 })
      await verifier.verify(await ed.sign(DAY))
      jwks.keys = [ed.jwk, next.jwk]
      clock.advance(5_000)
      expect((await verifier.verify(await next.sign({ ...DAY, sub: 'new' }))).sub).toBe('new')
      expect(jwks.calls).toBe(2)
    })

    it('refetches at most once per cooldown under a flood of random kids', async () => {
      const { clock, jwks, verifier } = setup({ cooldownMs: 5_000 })
      await verifier.verify(await ed.sign(DAY))
      clock.advance(5_000)
      const flood = await Promise.all(
        Array.from({ length: 50 }, (_, i) => ed.sign({ ...DAY }, { kid: `random-${i}` })),
      )
      const codes = await Promise.all(flood.map((token) => codeOf(verifier, token)))
      expect(new Set(codes)).toEqual(new Set(['KEY_NOT_FOUND']))
      expect(jwks.calls).toBe(2)
      for (const token of flood.slice(0, 10)) await codeOf(verifier, token)
      expect(jwks.calls).toBe(2)
      clock.advance(5_000)
      await codeOf(verifier, flood[0]!)
      expect(jwks.calls).toBe(3)
    })

    it('rejects an unknown kid without fetching while cooling down', async () => {
      const { jwks, verifier } = setup({ cooldownMs: 5_000 })
      await verifier.verify(await ed.sign(DAY))
      jwks.keys = [ed.jwk, next.jwk]
      expect(await codeOf(verifier, await next.sign(DAY))).toBe('KEY_NOT_FOUND')
      expect(jwks.calls).toBe(1)
    })
  })

  describe('freshness', () => {
    it('honours Cache-Control max-age, then refreshes behind a stale answer', async () => {
      const { clock, jwks, verifier } = setup({ cooldownMs: 1_000 })
      jwks.cacheControl = 'public, max-age=60'
      const token = await ed.sign(DAY)
      await verifier.verify(token)
      clock.advance(59_999)
      await verifier.verify(token)
      expect(jwks.calls).toBe(1)
      clock.advance(1)
      await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(2)
    })

    it('uses defaultMaxAgeMs without Cache-Control', async () => {
      const { clock, jwks, verifier } = setup({ defaultMaxAgeMs: 120_000 })
      const token = await ed.sign(DAY)
      await verifier.verify(token)
      clock.advance(119_000)
      await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(1)
      clock.advance(1_000)
      await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(2)
    })

    it('caps a long max-age at maxMaxAgeMs', async () => {
      const { clock, jwks, verifier } = setup({ maxMaxAgeMs: 600_000 })
      jwks.cacheControl = 'max-age=31536000'
      const token = await ed.sign(DAY)
      await verifier.verify(token)
      clock.advance(600_000)
      await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(2)
    })

    it('treats no-store as stale at once but still refetches only per cooldown', async () => {
      const { clock, jwks, verifier } = setup({ cooldownMs: 5_000 })
      jwks.cacheControl = 'no-store'
      const token = await ed.sign(DAY)
      for (let i = 0; i < 5; i++) await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(1)
      clock.advance(5_000)
      await verifier.verify(token)
      await settle()
      expect(jwks.calls).toBe(2)
    })
  })

  describe('stale-if-error', () => {
    it('keeps verifying with the last good keys while the auth server is unreachable', async () => {
      const { clock, jwks, verifier } = setup()
      jwks.cacheControl = 'max-age=60'
      await verifier.verify(await ed.sign(DAY))
      jwks.down = true
      for (let minute = 0; minute < 30; minute++) {
        clock.advance(60_000)
        expect((await verifier.verify(await ed.sign({ ...DAY, sub: `${minute}` }))).sub).toBe(
          `${minute}`,
        )
        await settle()
      }
      expect(jwks.calls).toBeGreaterThan(10)
      expect(verifier.jwks!.status().lastError).toBeInstanceOf(Error)
      expect(verifier.jwks!.status().kids).toEqual([ed.kid])
    })

    it.each<[string, (jwks: FakeJwks) => void]>([
      [
        'a 500',
        (jwks) => {
          jwks.status = 500
        },
      ],
      [
        'a 302 redirect',
        (jwks) => {
          jwks.status = 302
        },
      ],
      [
        'invalid JSON',
        (jwks) => {
          jwks.body = '{"keys": ['
        },
      ],
      [
        'a document without keys',
        (jwks) => {
          jwks.body = '{"kid": "x"}'
        },
      ],
    ])('keeps the last good keys when the JWKS endpoint answers %s', async (_name, breakIt) => {
      const { clock, jwks, verifier } = setup()
      await verifier.verify(await ed.sign(DAY))
      breakIt(jwks)
      clock.advance(3_600_000)
      await verifier.jwks!.refresh().catch(() => {})
      expect(verifier.jwks!.status().kids).toEqual([ed.kid])
      expect((await verifier.verify(await ed.sign(DAY))).sub).toBe('42')
    })

    it('drops the last good keys maxStaleMs past their freshness, then answers JWKS_UNAVAILABLE', async () => {
      const { clock, jwks, verifier } = setup({ maxStaleMs: 3_600_000 }, 100)
      jwks.cacheControl = 'max-age=60'
      const cached = await ed.sign(DAY)
      await verifier.verify(cached)
      jwks.down = true
      clock.advance(60_000 + 3_599_999)
      expect(await codeOf(verifier, await ed.sign(DAY))).toBeUndefined()
      await settle()
      clock.advance(1)
      expect(await codeOf(verifier, await ed.sign(DAY))).toBe('JWKS_UNAVAILABLE')
      expect(verifier.jwks!.status()).toMatchObject({ kids: [], fetchedAt: undefined })
      // Tokens verified with the dropped keys go with them.
      expect(verifier.peek(cached)).toBeUndefined()
      expect(await codeOf(verifier, cached)).toBe('JWKS_UNAVAILABLE')
      // Back as soon as the auth server answers again.
      jwks.down = false
      clock.advance(5_000)
      expect(await codeOf(verifier, await ed.sign(DAY))).toBeUndefined()
      expect(verifier.jwks!.status().kids).toEqual([ed.kid])
    })

    it('keeps stale keys for 24 hours by default, not for ever', async () => {
      const { clock, jwks, verifier } = setup()
      jwks.cacheControl = 'max-age=300'
      await verifier.verify(await ed.sign(DAY))
      jwks.down = true
      const at = (seconds: number) => ({ iat: NOW + seconds, exp: NOW + seconds + 300 })
      clock.advance(300_000 + 86_399_000)
      expect(await codeOf(verifier, await ed.sign(at(300 + 86_399)))).toBeUndefined()
      await settle()
      clock.advance(1_000)
      expect(await codeOf(verifier, await ed.sign(at(300 + 86_400)))).toBe('JWKS_UNAVAILABLE')
      clock.advance(90 * 86_400_000)
      expect(await codeOf(verifier, await ed.sign(at(91 * 86_400)))).toBe('JWKS_UNAVAILABLE')
    })

    it('reports the failure of a forced refresh as JwksUnavailableError', async () => {
      const { jwks, verifier } = setup()
      jwks.status = 503
      await expect(verifier.jwks!.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
    })
  })

  describe('document size', () => {
    /** A fetch answering a body stream of 64 KiB chunks, 4 MB in all, pulled one at a time. */
    function endless(headers: Record<string, string> = {}) {
      const state = { pulls: 0, cancelled: false }
      const chunk = new Uint8Array(64 * 1024).fill(0x20)
      const fetch: typeof globalThis.fetch = async () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                state.pulls++
                controller.enqueue(chunk.slice())
                if (state.pulls === 64) controller.close()
              },
              cancel() {
                state.cancelled = true
              },
            },
            { highWaterMark: 0 },
          ),
          { headers: { 'content-type': 'application/json', ...headers } },
        )
      return { state, fetch }
    }

    it('refuses a document whose Content-Length is over 1 MB without reading it', async () => {
      const { state, fetch } = endless({ 'content-length': '1000001' })
      const cache = createJwksCache({ url: JWKS_URL, algorithms: ['EdDSA'], fetch })
      await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
      expect(String((cache.status().lastError as Error).message)).toMatch(/too large/)
      expect(state.pulls).toBe(0)
      expect(state.cancelled).toBe(true)
    })

    it('stops reading a document without Content-Length once it passes 1 MB', async () => {
      const { state, fetch } = endless()
      const cache = createJwksCache({ url: JWKS_URL, algorithms: ['EdDSA'], fetch })
      await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
      expect(String((cache.status().lastError as Error).message)).toMatch(/too large/)
      // 1 MB is 15.3 chunks of 64 KiB: the 16th passes the limit and nothing more is read.
      expect(state.pulls).toBe(16)
      expect(state.cancelled).toBe(true)
    })

    it('counts bytes, not characters: 400,000 three-byte characters are over 1 MB', async () => {
      const { clock, jwks, verifier } = setup()
      await verifier.verify(await ed.sign(DAY))
      jwks.keys = [next.jwk]
      jwks.body = JSON.stringify({ keys: [next.jwk], padding: '€'.repeat(400_000) })
      clock.advance(3_600_000)
      await expect(verifier.jwks!.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
      expect(verifier.jwks!.status().kids).toEqual([ed.kid])
    })

    it('accepts a document of exactly 1 MB', async () => {
      const { jwks, verifier } = setup()
      const document = JSON.stringify({ keys: [ed.jwk], padding: '' })
      jwks.body = document.replace(
        '"padding":""',
        `"padding":"${'x'.repeat(1_000_000 - document.length)}"`,
      )
      expect(new TextEncoder().encode(jwks.body).length).toBe(1_000_000)
      await verifier.jwks!.refresh()
      expect(verifier.jwks!.status().kids).toEqual([ed.kid])
    })

    it('refuses a document that is not UTF-8', async () => {
      const cache = createJwksCache({
        url: JWKS_URL,
        algorithms: ['EdDSA'],
        fetch: async () => new Response(new Uint8Array([0x7b, 0xff, 0x7d])),
      })
      await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
    })
  })

  describe('key selection', () => {
    it('skips keys of other types or uses, and imports only public members', async () => {
      const es = await createSigner('ES256', 'es-1')
      const jwks = fakeJwks([
        { kty: 'RSA', kid: 'rsa', n: 'AQAB', e: 'AQAB', alg: 'RS256' },
        { ...next.jwk, use: 'enc' },
        { ...next.jwk, kid: 'ed448', crv: 'Ed448' },
        { ...next.jwk, kid: 'short-x', x: 'AAAA' },
        { ...ed.jwk, d: 'bm90IGEgcmVhbCBwcml2YXRlIGtleSBidXQgMzIgYnl0ZXM' },
        es.jwk,
      ])
      const cache = createJwksCache({ url: JWKS_URL, algorithms: ['EdDSA'], fetch: jwks.fetch })
      await cache.refresh()
      expect(cache.status().kids).toEqual([ed.kid])
      const verifier = createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['EdDSA'],
        jwksUrl: JWKS_URL,
        fetch: jwks.fetch,
        clock: () => T0,
      })
      expect((await verifier.verify(await ed.sign(DAY))).sub).toBe('42')
      expect(await codeOf(verifier, await es.sign(DAY))).toBe('ALGORITHM_NOT_ALLOWED')
    })

    it('imports each key once across refreshes', async () => {
      const importKey = vi.spyOn(crypto.subtle, 'importKey')
      const jwks = fakeJwks([ed.jwk])
      const cache = createJwksCache({ url: JWKS_URL, algorithms: ['EdDSA'], fetch: jwks.fetch })
      await cache.refresh()
      await cache.refresh()
      jwks.keys = [ed.jwk, next.jwk]
      await cache.refresh()
      expect(importKey).toHaveBeenCalledTimes(2)
    })

    it('re-imports a kid whose key material changed', async () => {
      const { clock, jwks, verifier } = setup()
      await verifier.verify(await ed.sign(DAY))
      const replaced = await createSigner('EdDSA', ed.kid)
      jwks.keys = [replaced.jwk]
      clock.advance(3_600_000)
      await verifier.jwks!.refresh()
      expect((await verifier.verify(await replaced.sign(DAY))).sub).toBe('42')
      expect(await codeOf(verifier, await ed.sign(DAY))).toBe('SIGNATURE_INVALID')
    })

    it('forgets tokens verified with a key that was replaced under the same kid', async () => {
      const { clock, jwks, verifier } = setup({}, 100)
      const token = await ed.sign(DAY)
      await verifier.verify(token)
      expect(verifier.peek(token)).toBeDefined()
      const replaced = await createSigner('EdDSA', ed.kid)
      jwks.keys = [replaced.jwk]
      clock.advance(3_600_000)
      await verifier.jwks!.refresh()
      expect(verifier.peek(token)).toBeUndefined()
      expect(await codeOf(verifier, token)).toBe('SIGNATURE_INVALID')
    })

    it('does not cache a verification that was in flight while its key was withdrawn', async () => {
      const { clock, jwks, verifier } = setup({}, 100)
      await verifier.jwks!.refresh()
      const token = await ed.sign(DAY)
      // Park the verification on its signature check, its (soon withdrawn) key in hand.
      let open!: () => void
      const gate = new Promise<void>((resolve) => {
        open = resolve
      })
      const subtleVerify = crypto.subtle.verify.bind(crypto.subtle)
      const parked = vi.spyOn(crypto.subtle, 'verify').mockImplementationOnce(async (...args) => {
        await gate
        return subtleVerify(...args)
      })
      const inFlight = verifier.verify(token)
      await settle()
      expect(parked).toHaveBeenCalledTimes(1)
      jwks.keys = [next.jwk]
      clock.advance(3_600_000)
      await verifier.jwks!.refresh()
      open()
      // It was valid when it started; it must not outlive the withdrawal in the cache.
      expect((await inFlight).sub).toBe('42')
      expect(verifier.peek(token)).toBeUndefined()
      expect(await codeOf(verifier, token)).toBe('KEY_NOT_FOUND')
    })

    it('keeps the verified tokens when a refresh brings the same keys again', async () => {
      const { clock, jwks, verifier } = setup({}, 100)
      const token = await ed.sign(DAY)
      await verifier.verify(token)
      jwks.keys = [{ ...ed.jwk }, next.jwk]
      clock.advance(3_600_000)
      await verifier.jwks!.refresh()
      expect(verifier.peek(token)).toBeDefined()
    })
  })
})

describe('JWKS cache over real HTTP', () => {
  let server: Server
  let base: string
  let requests: string[] = []
  let hang = false
  let endlessBytes = 0
  let endlessClosed = false

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push(request.url ?? '')
      if (hang) return
      if (request.url === '/endless') {
        // Chunked, no Content-Length, 256 MB (as good as endless, but a client that reads it
        // all fails the test instead of running out of memory).
        response.writeHead(200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        const pump = () => {
          while (!response.destroyed && endlessBytes < 256 * 1024 * 1024) {
            endlessBytes += chunk.length
            if (!response.write(chunk)) return
          }
          if (!response.destroyed) response.end()
        }
        response.on('drain', pump)
        response.on('close', () => {
          endlessClosed = true
        })
        pump()
      } else if (request.url === '/redirect') {
        response.writeHead(302, { location: '/evil.json' }).end()
      } else if (request.url === '/evil.json') {
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ keys: [next.jwk] }))
      } else {
        response.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'max-age=300',
        })
        response.end(JSON.stringify({ keys: [ed.jwk] }))
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  afterEach(() => {
    requests = []
    hang = false
  })

  it('fetches and uses the keys with the global fetch', async () => {
    const cache = createJwksCache({ url: `${base}/jwks.json`, algorithms: ['EdDSA'] })
    await cache.refresh()
    expect(cache.status().kids).toEqual([ed.kid])
    expect(cache.status().freshUntil! - cache.status().fetchedAt!).toBe(300_000)
  })

  it('does not follow a redirect', async () => {
    const cache = createJwksCache({ url: `${base}/redirect`, algorithms: ['EdDSA'] })
    await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
    expect(requests).toEqual(['/redirect'])
    expect(cache.status().kids).toEqual([])
  })

  it('cancels an endless document once it passes 1 MB', async () => {
    const cache = createJwksCache({ url: `${base}/endless`, algorithms: ['EdDSA'] })
    await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
    expect(String((cache.status().lastError as Error).message)).toMatch(/too large/)
    await vi.waitFor(() => expect(endlessClosed).toBe(true))
    // What the sockets' buffers took in before the cancel, not an unbounded stream.
    expect(endlessBytes).toBeLessThan(16 * 1024 * 1024)
  })

  it('gives up on a hanging JWKS endpoint after timeoutMs', async () => {
    hang = true
    const cache = createJwksCache({
      url: `${base}/jwks.json`,
      algorithms: ['EdDSA'],
      timeoutMs: 200,
    })
    const started = Date.now()
    await expect(cache.refresh()).rejects.toBeInstanceOf(JwksUnavailableError)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
