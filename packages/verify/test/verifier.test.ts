import { generateKeyPair, SignJWT } from 'jose'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createVerifier,
  JwksUnavailableError,
  type TokenErrorCode,
  TokenInvalidError,
  type Verifier,
  type VerifierOptions,
} from '../src/index.ts'
import {
  AUDIENCE,
  accessClaims,
  b64url,
  createSigner,
  fakeJwks,
  flipSignature,
  hs256With,
  ISSUER,
  manualClock,
  NOW,
  rawToken,
  type Signer,
  T0,
} from './helpers.ts'

let ed: Signer
let es: Signer

beforeAll(async () => {
  ed = await createSigner('EdDSA', 'ed-1')
  es = await createSigner('ES256', 'es-1')
})

function verifierFor(overrides: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['EdDSA', 'ES256'],
    keys: [ed.jwk, es.jwk],
    clock: () => T0,
    ...overrides,
  })
}

async function expectRejected(
  verifier: Verifier,
  token: string,
  code: TokenErrorCode,
): Promise<void> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(TokenInvalidError)
  expect((error as TokenInvalidError).code).toBe(code)
  expect(verifier.peek(token)).toBeUndefined()
}

describe('createVerifier', () => {
  it('refuses to start without issuer, audience, algorithms or keys', () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], keys: [] } as const
    expect(() => createVerifier({ ...base, issuer: '' })).toThrow(/issuer/)
    expect(() => createVerifier({ ...base, audience: '' })).toThrow(/audience/)
    expect(() => createVerifier({ ...base, algorithms: [] })).toThrow(/algorithms/)
    expect(() => createVerifier({ ...base, algorithms: ['none' as 'EdDSA'] })).toThrow(/algorithms/)
    expect(() => createVerifier({ ...base, algorithms: ['HS256' as 'EdDSA'] })).toThrow(
      /algorithms/,
    )
    expect(() => createVerifier({ ...base, keys: undefined })).toThrow(/jwksUrl/)
    expect(() => createVerifier({ ...base, jwksUrl: 'http://x.test/jwks' })).toThrow(/exactly one/)
    expect(() => createVerifier({ ...base, leewaySeconds: -1 })).toThrow(/leeway/)
    expect(() => createVerifier({ ...base, maxTokenAgeSeconds: 0 })).toThrow(/maxTokenAge/)
  })
})

describe('verify()', () => {
  it('returns the claims of a valid EdDSA access token', async () => {
    const token = await ed.sign({ sub: '7', scope: 'notes:read' })
    const claims = await verifierFor().verify(token)
    expect(claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: '7', scope: 'notes:read' })
    expect(claims.token_type).toBe('access')
  })

  it('returns the claims of a valid ES256 access token', async () => {
    const token = await es.sign()
    expect((await verifierFor().verify(token)).sub).toBe('42')
  })

  it('accepts an audience array that contains the audience', async () => {
    const token = await ed.sign({ aud: ['other', AUDIENCE] })
    expect((await verifierFor().verify(token)).aud).toEqual(['other', AUDIENCE])
  })

  it('accepts typ application/at+jwt (RFC 9068 §4)', async () => {
    const token = await ed.sign({}, { typ: 'application/at+jwt' })
    expect((await verifierFor().verify(token)).sub).toBe('42')
  })

  it.each([['AT+JWT'], ['At+Jwt'], ['application/AT+JWT'], ['Application/At+Jwt']])(
    'accepts typ %s: media types are case-insensitive (RFC 7515 §4.1.9)',
    async (typ) => {
      expect((await verifierFor().verify(await ed.sign({}, { typ }))).sub).toBe('42')
    },
  )

  it('hands out frozen claims so one request cannot alter another', async () => {
    const claims = await verifierFor().verify(await ed.sign({ aud: [AUDIENCE] }))
    expect(Object.isFrozen(claims)).toBe(true)
    expect(Object.isFrozen(claims.aud)).toBe(true)
  })

  describe('time', () => {
    it('rejects an expired token', async () => {
      await expectRejected(verifierFor(), await ed.sign({ exp: NOW - 11 }), 'TOKEN_EXPIRED')
    })

    it('accepts a token expired by less than the leeway', async () => {
      const token = await ed.sign({ exp: NOW - 5 })
      expect((await verifierFor({ leewaySeconds: 10 }).verify(token)).sub).toBe('42')
      await expectRejected(verifierFor({ leewaySeconds: 0 }), token, 'TOKEN_EXPIRED')
    })

    it('rejects a token once the clock passes exp', async () => {
      const clock = manualClock()
      const verifier = verifierFor({ clock: clock.now, leewaySeconds: 0, cacheSize: 0 })
      const token = await ed.sign({ exp: NOW + 60 })
      await verifier.verify(token)
      clock.advance(60_000)
      await expectRejected(verifier, token, 'TOKEN_EXPIRED')
    })

    it('rejects a token whose nbf is in the future', async () => {
      await expectRejected(verifierFor(), await ed.sign({ nbf: NOW + 60 }), 'TOKEN_NOT_YET_VALID')
    })

    it('accepts an nbf within the leeway', async () => {
      expect((await verifierFor().verify(await ed.sign({ nbf: NOW + 5 }))).sub).toBe('42')
    })

    it('rejects a token issued in the future, beyond the leeway', async () => {
      const future = { iat: NOW + 11, exp: NOW + 311 }
      await expectRejected(verifierFor(), await ed.sign(future), 'TOKEN_NOT_YET_VALID')
    })

    it('accepts an iat ahead of the clock by less than the leeway', async () => {
      const token = await ed.sign({ iat: NOW + 10, exp: NOW + 310 })
      expect((await verifierFor().verify(token)).sub).toBe('42')
    })

    it('rejects a token that claims to live longer than maxTokenAgeSeconds', async () => {
      await expectRejected(verifierFor(), await ed.sign({ exp: NOW + 86_401 }), 'CLAIMS_INVALID')
      expect((await verifierFor().verify(await ed.sign({ exp: NOW + 86_400 }))).sub).toBe('42')
      const strict = verifierFor({ maxTokenAgeSeconds: 600 })
      await expectRejected(strict, await ed.sign({ exp: NOW + 601 }), 'CLAIMS_INVALID')
    })

    it('rejects an absurd exp, so that no cache entry lives for ever', async () => {
      await expectRejected(verifierFor(), await ed.sign({ exp: 1e300 }), 'CLAIMS_INVALID')
      // An old iat does not stretch the lifetime either.
      await expectRejected(verifierFor(), await ed.sign({ iat: 0 }), 'CLAIMS_INVALID')
    })

    it('rejects an exp that JSON reads as Infinity', async () => {
      const claims = JSON.stringify(accessClaims()).replace(/"exp":\d+/, '"exp":1e400')
      expect(claims).toContain('1e400')
      await expectRejected(verifierFor(), await ed.signRaw(claims), 'CLAIMS_INVALID')
    })

    it.each([
      ['a negative exp', { exp: -1 }],
      ['a negative iat', { iat: -1 }],
      ['a negative nbf', { nbf: -1 }],
    ])('rejects %s as malformed (NumericDate is ≥ 0)', async (_name, claims) => {
      await expectRejected(
        verifierFor({ maxTokenAgeSeconds: Number.POSITIVE_INFINITY }),
        await ed.sign(claims),
        'CLAIMS_INVALID',
      )
    })
  })

  describe('claims', () => {
    it('rejects a token from another issuer', async () => {
      await expectRejected(
        verifierFor(),
        await ed.sign({ iss: 'http://evil.test' }),
        'ISSUER_INVALID',
      )
    })

    it('rejects an issuer that differs only by a trailing slash', async () => {
      await expectRejected(verifierFor(), await ed.sign({ iss: `${ISSUER}/` }), 'ISSUER_INVALID')
    })

    it('rejects a token for another audience', async () => {
      await expectRejected(verifierFor(), await ed.sign({ aud: 'billing' }), 'AUDIENCE_INVALID')
      await expectRejected(verifierFor(), await ed.sign({ aud: ['billing'] }), 'AUDIENCE_INVALID')
    })

    it('rejects an audience array that holds anything but strings', async () => {
      await expectRejected(
        verifierFor(),
        await ed.sign({ aud: [AUDIENCE, 42] }),
        'AUDIENCE_INVALID',
      )
      await expectRejected(
        verifierFor(),
        await ed.sign({ aud: [AUDIENCE, { evil: true }] }),
        'AUDIENCE_INVALID',
      )
    })

    it('rejects a token without aud', async () => {
      await expectRejected(verifierFor(), await ed.sign({ aud: undefined }), 'AUDIENCE_INVALID')
    })

    it('rejects token_type refresh even with typ at+jwt and a valid signature', async () => {
      const token = await ed.sign({ token_type: 'refresh' })
      await expectRejected(verifierFor(), token, 'TOKEN_TYPE_INVALID')
    })

    it.each([
      ['exp', { exp: undefined }],
      ['exp as a string', { exp: String(NOW + 300) }],
      ['iat', { iat: undefined }],
      ['sub', { sub: undefined }],
      ['an empty sub', { sub: '' }],
      ['a numeric sub', { sub: 42 }],
      ['scope', { scope: undefined }],
      ['jti', { jti: undefined }],
      ['sid', { sid: undefined }],
      ['nbf as a string', { nbf: 'soon' }],
      ['a NUL in sub', { sub: 'a\u0000b' }],
      ['a line feed in sub', { sub: 'a\nb' }],
      ['a DEL in sub', { sub: '\u007f' }],
      ['a C1 control in sub', { sub: 'a\u0085' }],
      ['an unpaired surrogate in sub', { sub: 'a\ud800' }],
      ['a reversed surrogate pair in sub', { sub: '\ude00\ud83d' }],
      ['a sub of 256 characters', { sub: 'x'.repeat(256) }],
    ])('rejects a token with a missing or malformed %s', async (_name, claims) => {
      await expectRejected(verifierFor(), await ed.sign(claims), 'CLAIMS_INVALID')
    })

    it.each([['x'.repeat(255)], ['zoë'], ['😀'], ['user@example.com'], ['a b']])(
      'accepts the sub %s',
      async (sub) => {
        expect((await verifierFor().verify(await ed.sign({ sub }))).sub).toBe(sub)
      },
    )
  })

  describe('header', () => {
    it('rejects a refresh token (HS256, typ rt+jwt) used as an access token', async () => {
      const refresh = await new SignJWT({ ...accessClaims(), token_type: 'refresh', ctr: 0 })
        .setProtectedHeader({ alg: 'HS256', typ: 'rt+jwt' })
        .sign(new TextEncoder().encode('server-only-refresh-secret-32-bytes!'))
      await expectRejected(verifierFor(), refresh, 'ALGORITHM_NOT_ALLOWED')
    })

    it('rejects typ rt+jwt even when signed by a published key', async () => {
      await expectRejected(
        verifierFor(),
        await ed.sign({}, { typ: 'rt+jwt' }),
        'TOKEN_TYPE_INVALID',
      )
    })

    it('rejects a token without typ, or with typ JWT', async () => {
      await expectRejected(
        verifierFor(),
        await ed.sign({}, { typ: undefined }),
        'TOKEN_TYPE_INVALID',
      )
      await expectRejected(verifierFor(), await ed.sign({}, { typ: 'JWT' }), 'TOKEN_TYPE_INVALID')
    })

    it('rejects alg none, in any spelling', async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        const token = rawToken({ alg, typ: 'at+jwt', kid: ed.kid }, accessClaims())
        await expectRejected(verifierFor(), token, 'ALGORITHM_NOT_ALLOWED')
      }
    })

    it('rejects HS256 signed with the public key (key confusion)', async () => {
      const x = Buffer.from(ed.jwk.x!, 'base64url')
      for (const secret of [x, ed.jwk.x!, JSON.stringify(ed.jwk), ed.spki]) {
        await expectRejected(
          verifierFor(),
          hs256With(secret, { kid: ed.kid }),
          'ALGORITHM_NOT_ALLOWED',
        )
      }
    })

    it('rejects an algorithm that is not pinned, even with a valid signature', async () => {
      const verifier = verifierFor({ algorithms: ['EdDSA'] })
      await expectRejected(verifier, await es.sign(), 'ALGORITHM_NOT_ALLOWED')
    })

    it('rejects a token whose alg differs from its key', async () => {
      // An ES256 token that names the EdDSA key.
      await expectRejected(verifierFor(), await es.sign({}, { kid: ed.kid }), 'KEY_NOT_FOUND')
    })

    it('rejects an embedded jwk even when the token verifies against it', async () => {
      const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true })
      const { exportJWK } = await import('jose')
      const token = await new SignJWT(accessClaims())
        .setProtectedHeader({
          alg: 'EdDSA',
          typ: 'at+jwt',
          kid: ed.kid,
          jwk: await exportJWK(publicKey),
        })
        .sign(privateKey)
      await expectRejected(verifierFor(), token, 'HEADER_NOT_ALLOWED')
    })

    it.each([
      ['jku', { jku: 'http://evil.test/jwks.json' }],
      ['x5u', { x5u: 'http://evil.test/cert.pem' }],
      ['x5c', { x5c: ['MIIB'] }],
    ])('rejects a %s header', async (_name, header) => {
      await expectRejected(verifierFor(), await ed.sign({}, header), 'HEADER_NOT_ALLOWED')
    })

    it.each([[true], [false]])(
      'rejects a b64: %s header (RFC 7797) even on a validly signed token',
      async (b64) => {
        const payload = JSON.stringify(accessClaims())
        // jose signs the payload bytes unencoded for b64: false, as RFC 7797 says.
        const token = await ed.signRaw(payload, { b64 })
        await expectRejected(verifierFor(), token, 'HEADER_NOT_ALLOWED')
      },
    )

    it('rejects a crit header naming an extension it does not understand', async () => {
      const token = rawToken(
        { alg: 'EdDSA', typ: 'at+jwt', kid: ed.kid, crit: ['exp-ext'], 'exp-ext': 1 },
        accessClaims(),
        'A'.repeat(86),
      )
      await expectRejected(verifierFor(), token, 'HEADER_NOT_ALLOWED')
    })

    it('rejects a token without kid', async () => {
      await expectRejected(verifierFor(), await ed.sign({}, { kid: undefined }), 'KEY_NOT_FOUND')
    })

    it('rejects an unknown kid', async () => {
      await expectRejected(verifierFor(), await ed.sign({}, { kid: 'nope' }), 'KEY_NOT_FOUND')
    })
  })

  describe('signature', () => {
    it('rejects a flipped signature bit', async () => {
      await expectRejected(verifierFor(), flipSignature(await ed.sign()), 'SIGNATURE_INVALID')
      await expectRejected(verifierFor(), flipSignature(await es.sign()), 'SIGNATURE_INVALID')
    })

    it('rejects a token signed by a foreign key that claims the real kid', async () => {
      const foreign = await createSigner('EdDSA', ed.kid)
      await expectRejected(verifierFor(), await foreign.sign(), 'SIGNATURE_INVALID')
    })

    it('rejects a payload swapped under a valid signature', async () => {
      const [header, , signature] = (await ed.sign({ sub: '1' })).split('.')
      const forged = `${header}.${b64url(accessClaims({ sub: '2' }))}.${signature}`
      await expectRejected(verifierFor(), forged, 'SIGNATURE_INVALID')
    })

    it('rejects a signature of the wrong length before looking for a key', async () => {
      const jwks = fakeJwks([ed.jwk])
      const verifier = verifierFor({
        keys: undefined,
        jwksUrl: 'http://auth.test/.well-known/jwks.json',
        fetch: jwks.fetch,
      })
      const token = await ed.sign({}, { kid: 'unknown' })
      const body = token.slice(0, token.lastIndexOf('.') + 1)
      // 63 and 65 bytes, and an ES256 signature in DER as some libraries produce it (72 bytes).
      for (const bytes of [63, 65, 72]) {
        await expectRejected(
          verifier,
          `${body}${b64url(new Uint8Array(bytes))}`,
          'SIGNATURE_INVALID',
        )
      }
      expect(jwks.calls).toBe(0)
    })

    it('rejects a truncated or empty signature', async () => {
      const token = await ed.sign()
      await expectRejected(verifierFor(), token.slice(0, -4), 'SIGNATURE_INVALID')
      await expectRejected(
        verifierFor(),
        token.slice(0, token.lastIndexOf('.') + 1),
        'SIGNATURE_INVALID',
      )
    })
  })

  describe('keys', () => {
    it.each([
      ['key_ops without verify', { key_ops: ['sign'] }],
      ['key_ops that is not an array', { key_ops: 'verify' }],
      ['use enc', { use: 'enc' }],
    ])('ignores a published key with %s', async (_name, members) => {
      const verifier = verifierFor({ keys: [{ ...ed.jwk, ...members }] })
      await expectRejected(verifier, await ed.sign(), 'KEY_NOT_FOUND')
    })

    it('uses a published key whose key_ops include verify', async () => {
      const verifier = verifierFor({ keys: [{ ...ed.jwk, key_ops: ['verify'] }] })
      expect((await verifier.verify(await ed.sign())).sub).toBe('42')
    })
  })

  describe('malformed input', () => {
    it.each([
      ['an empty string', ''],
      ['one segment', 'abc'],
      ['two segments', 'abc.def'],
      ['four segments', 'a.b.c.d'],
      ['a header that is not base64url', '!!!.e30.AAAA'],
      ['padded base64', `${b64url({ alg: 'EdDSA' })}=.e30.AAAA`],
      ['a header that is not JSON', `${b64url('not json')}.e30.AAAA`],
      ['a header that is an array', `${b64url('[]')}.e30.AAAA`],
      ['a header that is invalid UTF-8', `${b64url(new Uint8Array([0xff, 0xfe]))}.e30.AAAA`],
    ])('rejects %s', async (_name, token) => {
      await expectRejected(verifierFor(), token, 'TOKEN_MALFORMED')
    })

    it.each([
      ['an array', '[1]'],
      ['not JSON', 'nope'],
      ['null', 'null'],
    ])('rejects a validly signed payload that is %s', async (_name, payload) => {
      const token = await ed.signRaw(payload)
      await expectRejected(verifierFor(), token, 'TOKEN_MALFORMED')
    })

    it('rejects a token longer than maxTokenLength before parsing it', async () => {
      const token = await ed.sign({ pad: 'x'.repeat(2_000) })
      await expectRejected(verifierFor({ maxTokenLength: 1_000 }), token, 'TOKEN_MALFORMED')
    })

    it('rejects a non-string', async () => {
      await expectRejected(verifierFor(), 42 as unknown as string, 'TOKEN_MALFORMED')
    })
  })
})

describe('verified-token cache', () => {
  it('answers peek() for a verified token and not for an unknown one', async () => {
    const verifier = verifierFor()
    const token = await ed.sign()
    expect(verifier.peek(token)).toBeUndefined()
    const claims = await verifier.verify(token)
    expect(verifier.peek(token)).toBe(claims)
    expect(await verifier.verify(token)).toBe(claims)
  })

  it('does not answer from the cache for another token that carries a cached signature', async () => {
    const verifier = verifierFor()
    const token = await ed.sign({ sub: 'ada' })
    await verifier.verify(token)
    const [, , signature] = token.split('.')
    const forged = `${b64url({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64url(
      accessClaims({ sub: 'mallory' }),
    )}.${signature}`
    expect(verifier.peek(forged)).toBeUndefined()
    await expectRejected(verifier, forged, 'SIGNATURE_INVALID')
    expect(verifier.peek(token)?.sub).toBe('ada')
  })

  it('stops answering from the cache once the token expires', async () => {
    const clock = manualClock()
    const verifier = verifierFor({ clock: clock.now, leewaySeconds: 0 })
    const token = await ed.sign({ exp: NOW + 60 })
    await verifier.verify(token)
    clock.advance(59_999)
    expect(verifier.peek(token)).toBeDefined()
    clock.advance(1)
    expect(verifier.peek(token)).toBeUndefined()
    await expectRejected(verifier, token, 'TOKEN_EXPIRED')
  })

  it('keeps at most cacheSize tokens, evicting the oldest', async () => {
    const verifier = verifierFor({ cacheSize: 2 })
    const [a, b, c] = await Promise.all([ed.sign(), ed.sign(), ed.sign()])
    for (const token of [a!, b!, c!]) await verifier.verify(token)
    expect(verifier.peek(a!)).toBeUndefined()
    expect(verifier.peek(b!)).toBeDefined()
    expect(verifier.peek(c!)).toBeDefined()
  })

  it('caches nothing with cacheSize 0', async () => {
    const verifier = verifierFor({ cacheSize: 0 })
    const token = await ed.sign()
    await verifier.verify(token)
    expect(verifier.peek(token)).toBeUndefined()
  })

  it('never caches a rejected token', async () => {
    const verifier = verifierFor()
    const forged = flipSignature(await ed.sign())
    await expectRejected(verifier, forged, 'SIGNATURE_INVALID')
    await expectRejected(verifier, forged, 'SIGNATURE_INVALID')
  })

  it('forgets every token on clearCache()', async () => {
    const verifier = verifierFor()
    const token = await ed.sign()
    await verifier.verify(token)
    verifier.clearCache()
    expect(verifier.peek(token)).toBeUndefined()
  })

  it('does not cache a verification that was in flight during clearCache()', async () => {
    const verifier = verifierFor()
    const token = await ed.sign()
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
    await vi.waitFor(() => expect(parked).toHaveBeenCalledTimes(1))
    verifier.clearCache()
    open()
    expect((await inFlight).sub).toBe('42')
    expect(verifier.peek(token)).toBeUndefined()
    parked.mockRestore()
  })

  it('forgets tokens of a key the JWKS withdrew', async () => {
    const clock = manualClock()
    const jwks = fakeJwks([ed.jwk])
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['EdDSA'],
      jwksUrl: 'http://auth.test/.well-known/jwks.json',
      fetch: jwks.fetch,
      clock: clock.now,
    })
    const token = await ed.sign()
    await verifier.verify(token)
    const other = await createSigner('EdDSA', 'ed-2')
    jwks.keys = [other.jwk]
    // The next unknown kid after the cooldown refetches; the withdrawn key's tokens go with it.
    clock.advance(10_000)
    await verifier.verify(await other.sign())
    expect(verifier.peek(token)).toBeUndefined()
    await expectRejected(verifier, token, 'KEY_NOT_FOUND')
  })
})

describe('errors', () => {
  it('carries a stable code, a name and a fixed message', async () => {
    const error = (await verifierFor()
      .verify(await ed.sign({ iss: 'x' }))
      .catch((caught: unknown) => caught)) as TokenInvalidError
    expect(error).toBeInstanceOf(TokenInvalidError)
    expect(error.name).toBe('TokenInvalidError')
    expect(error.code).toBe('ISSUER_INVALID')
    expect(error.message).toBe('The token was issued by another issuer')
  })

  it('throws JwksUnavailableError when no key set can be had', async () => {
    const jwks = fakeJwks([])
    jwks.down = true
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['EdDSA'],
      jwksUrl: 'http://auth.test/.well-known/jwks.json',
      fetch: jwks.fetch,
    })
    const error = await verifier.verify(await ed.sign()).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(JwksUnavailableError)
    expect((error as JwksUnavailableError).code).toBe('JWKS_UNAVAILABLE')
    expect((error as JwksUnavailableError).cause).toBeInstanceOf(Error)
  })
})
