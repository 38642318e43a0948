export type {
  AuthChangeEvent,
  AuthChangeListener,
  ClientOptions,
  LogoutOptions,
  SignOutReason,
  TesseraClient,
} from './client.ts'
export { createClient } from './client.ts'
export type {
  AccessTokenClaims,
  ErrorBody,
  FieldErrors,
  MeResponse,
  OAuthError,
  OAuthTokenResponse,
  RegisterRequest,
  RegisterResponse,
  SessionInfo,
  SessionList,
  SessionsEnded,
  TokenObtainRequest,
  TokenPair,
} from './contract.ts'
export type { ChannelLike, LockManagerLike } from './cross-tab.ts'
export type { TesseraErrorCode, TesseraErrorOptions } from './errors.ts'
export { isTesseraError, TESSERA_ERROR_CODES, TesseraError } from './errors.ts'
export type { Session } from './session.ts'
export { decodeJwtPayload } from './session.ts'
export type { StorageAdapter, WebStorageLike } from './storage.ts'
export {
  createLocalStorage,
  createMemoryStorage,
  createSessionStorage,
  createWebStorage,
} from './storage.ts'
