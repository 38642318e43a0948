export type { AccessTokenClaims } from '@tessera/claims'
export {
  isVerifyError,
  JwksUnavailableError,
  TOKEN_ERROR_CODES,
  type TokenErrorCode,
  TokenInvalidError,
  VerifyError,
  type VerifyErrorCode,
} from './errors.ts'
export {
  createJwksCache,
  type JwksCache,
  type JwksCacheOptions,
  type JwksCacheStatus,
} from './jwks-cache.ts'
export {
  createStaticKeySource,
  isVerifyAlgorithm,
  type KeySource,
  type PublicJwk,
  VERIFY_ALGORITHMS,
  type VerificationKey,
  type VerifyAlgorithm,
} from './keys.ts'
export { hasScope, hasScopes } from './scope.ts'
export {
  createVerifier,
  tokenErrorMessage,
  type Verifier,
  type VerifierOptions,
} from './verifier.ts'
