// Run by test/runtime.test.ts with the Deno binary of the `deno` npm package: the verifier's
// TypeScript sources, imported as they are, verify tokens against a static key and against a
// JWKS served over HTTP by the test.
import { createVerifier, isVerifyError } from '../../src/index.ts'

const [input] = Deno.args
if (!input) throw new Error('usage: smoke.ts JSON')
const { issuer, audience, jwk, jwksUrl, token, forged, now } = JSON.parse(input)

const options = { issuer, audience, algorithms: ['EdDSA'] as const, clock: () => now }
const fixed = createVerifier({ ...options, keys: [jwk] })
const remote = createVerifier({ ...options, jwksUrl })

const claims = await fixed.verify(token)
const codeOf = (error: unknown) => (isVerifyError(error) ? error.code : String(error))
console.log(
  JSON.stringify({
    sub: claims.sub,
    frozen: Object.isFrozen(claims),
    cached: fixed.peek(token) === claims,
    forged: await fixed.verify(forged).then(() => 'accepted', codeOf),
    remote: (await remote.verify(token)).sub,
    remoteKids: remote.jwks?.status().kids,
  }),
)
