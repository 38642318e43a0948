import type * as Claims from '@tessera/claims'
import { describe, expectTypeOf, it } from 'vitest'
import type * as Sdk from '../src/index.ts'

// The SDK publishes its own copies of the wire types (see src/contract.ts). Vitest runs this
// file through tsc (`typecheck` in vitest.config.ts), as does `pnpm typecheck`: either fails the
// moment one of them drifts from @tessera/claims.
describe('wire types', () => {
  it('equal the @tessera/claims contract', () => {
    expectTypeOf<Sdk.TokenObtainRequest>().toEqualTypeOf<Claims.TokenObtainRequest>()
    expectTypeOf<Sdk.TokenPair>().toEqualTypeOf<Claims.TokenPair>()
    expectTypeOf<Sdk.RegisterRequest>().toEqualTypeOf<Claims.RegisterRequest>()
    expectTypeOf<Sdk.RegisterResponse>().toEqualTypeOf<Claims.RegisterResponse>()
    expectTypeOf<Sdk.MeResponse>().toEqualTypeOf<Claims.MeResponse>()
    expectTypeOf<Sdk.SessionInfo>().toEqualTypeOf<Claims.SessionInfo>()
    expectTypeOf<Sdk.SessionList>().toEqualTypeOf<Claims.SessionList>()
    expectTypeOf<Sdk.SessionsEnded>().toEqualTypeOf<Claims.SessionsEnded>()
    expectTypeOf<Sdk.OAuthTokenResponse>().toEqualTypeOf<Claims.OAuthTokenResponse>()
    expectTypeOf<Sdk.ErrorBody>().toEqualTypeOf<Claims.ErrorBody>()
    expectTypeOf<Sdk.OAuthError>().toEqualTypeOf<Claims.OAuthError>()
    expectTypeOf<Sdk.FieldErrors>().toEqualTypeOf<Claims.FieldErrors>()
    expectTypeOf<Sdk.AccessTokenClaims>().toEqualTypeOf<Claims.AccessTokenClaims>()
  })
})
