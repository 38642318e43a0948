import { randomBytes } from 'node:crypto'
import { createDatabase, type DatabaseHandle } from '@tessera/db'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import { createServerSecretRepository } from '../repositories/server-secrets.ts'
import { createSessionRepository } from '../repositories/sessions.ts'
import { createSigningKeyRepository } from '../repositories/signing-keys.ts'
import { createUserRepository } from '../repositories/users.ts'
import { type AccountService, createAccountService } from '../services/accounts.ts'
import { createKeyStore, type KeyStore } from '../services/key-store.ts'
import { createPasswordHasher, type PasswordParameters } from '../services/passwords.ts'
import { createSecretBox, type SecretBox } from '../services/secret-box.ts'
import { createSessionService, type SessionService } from '../services/sessions.ts'
import { createTokenService, type TokenService } from '../services/tokens.ts'

/** How often each instance re-reads the signing keys (a few rows, by primary key order). */
export const KEY_RELOAD_MS = 10_000

export interface ServiceDependencies {
  /** An open database; when absent one is opened from the config and closed with the app. */
  database?: DatabaseHandle
  /** Milliseconds since the epoch; inject one to test expiry without sleeping. */
  clock?: () => number
  /** Argon2id parameters (default: OWASP's m=19 MiB, t=2, p=1). */
  passwordParameters?: PasswordParameters
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    database: DatabaseHandle
    clock: () => number
    keys: KeyStore
    tokens: TokenService
    sessions: SessionService
    accounts: AccountService
  }
}

async function services(
  app: FastifyInstance,
  options: { config: Config; deps: ServiceDependencies },
): Promise<void> {
  const { config, deps } = options
  const clock = deps.clock ?? Date.now
  const database =
    deps.database ?? (await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir }))
  if (!deps.database) app.addHook('onClose', () => database.close())
  app.log.info({ database: database.kind, location: database.location }, 'database ready')

  const box = createSecretBox(config.keyEncryptionSecret)
  const keys = await createKeyStore({
    repository: createSigningKeyRepository(database.db),
    box,
    algorithm: config.signingAlgorithm,
    clock,
  })
  const refreshSecret = config.refreshTokenSecret ?? (await storedRefreshSecret(database, box))
  const tokens = createTokenService({
    keys,
    refreshSecret,
    issuer: config.issuer,
    audience: config.audience,
    accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds,
    refreshTokenLifetimeSeconds: config.refreshTokenLifetimeSeconds,
    clock,
  })
  const users = createUserRepository(database.db)
  const sessionRows = createSessionRepository(database.db)
  const passwords = await createPasswordHasher(deps.passwordParameters)

  app.decorate('config', config)
  app.decorate('database', database)
  app.decorate('clock', clock)
  app.decorate('keys', keys)
  app.decorate('tokens', tokens)
  app.decorate(
    'sessions',
    createSessionService({
      users,
      sessions: sessionRows,
      passwords,
      tokens,
      refreshTokenLifetimeSeconds: config.refreshTokenLifetimeSeconds,
      sessionMaxLifetimeSeconds: config.sessionMaxLifetimeSeconds,
      refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
      clock,
      onReuse: (session) =>
        app.log.warn(
          { sessionId: session.id, userId: session.userId },
          'refresh token reuse detected: session ended',
        ),
    }),
  )
  app.decorate('accounts', createAccountService({ users, sessions: sessionRows, passwords, clock }))

  // Other instances may rotate or revoke keys: every instance sees it within KEY_RELOAD_MS.
  const reload = setInterval(() => {
    keys.reload().catch((error) => app.log.warn({ err: error }, 'signing key reload failed'))
  }, KEY_RELOAD_MS)
  reload.unref()
  app.addHook('onClose', async () => clearInterval(reload))
}

/** The generated refresh-token key, sealed now if a key-encryption secret came since. */
async function storedRefreshSecret(database: DatabaseHandle, box: SecretBox): Promise<string> {
  const secrets = createServerSecretRepository(database.db)
  const name = 'refresh_token_secret'
  const stored = await secrets.getOrInsert(name, box.seal(randomBytes(48).toString('base64url')))
  const secret = box.open(stored)
  if (box.enabled && !box.isSealed(stored)) await secrets.update(name, box.seal(secret))
  return secret
}

export const servicesPlugin = fp(services, { name: 'services' })
