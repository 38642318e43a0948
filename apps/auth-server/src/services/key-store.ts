import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { ACCESS_TOKEN_TYP, type Jwk, type Jwks } from '@tessera/claims'
import type { SigningKey } from '@tessera/db'
import { createSigner } from 'fast-jwt'
import type { SigningKeyRepository } from '../repositories/signing-keys.ts'
import type { SecretBox } from './secret-box.ts'

export type SigningAlgorithm = 'EdDSA' | 'ES256'

export interface KeyInfo {
  kid: string
  alg: string
  state: string
  createdAt: Date
  activatedAt: Date | null
  retiredAt: Date | null
  revokedAt: Date | null
}

/**
 * Signing keys shared by every instance through the database: one `current` key signs, a
 * `standby` key is published ahead of its use and `retired` keys stay published until revoked,
 * so a rotation never invalidates a token in flight nor a resource server's cached JWKS.
 */
export interface KeyStore {
  readonly algorithm: SigningAlgorithm
  /** Signs a claims object with the current key (header: alg, typ `at+jwt`, kid). */
  sign(claims: Record<string, unknown>): string
  /** PEM of a published key; an unknown kid reloads from the database, at most once a second. */
  publicKeyPem(kid: string): Promise<string | undefined>
  /** The JWKS document: standby, current and retired keys, public members only. */
  jwks(): Jwks
  /** standby → current, current → retired, and a new standby. */
  rotate(): Promise<{ current: string; standby: string }>
  /** Unpublishes a key at once: tokens it signed stop verifying everywhere. */
  revoke(kid: string): Promise<void>
  /** Reads the keys again (other instances may have rotated). */
  reload(): Promise<void>
  list(): Promise<KeyInfo[]>
}

interface LoadedKey {
  kid: string
  state: string
  jwk: Jwk
  publicPem: string
  sign?: (claims: Record<string, unknown>) => string
}

export interface KeyStoreOptions {
  repository: SigningKeyRepository
  box: SecretBox
  algorithm: SigningAlgorithm
  clock: () => number
}

const PUBLISHED = new Set(['standby', 'current', 'retired'])

/**
 * Loads the keys, creating a current and a standby key on the very first start.
 *
 * @example
 * const keys = await createKeyStore({ repository, box, algorithm: 'EdDSA', clock: Date.now })
 * const jwt = keys.sign({ sub: '1', exp })
 */
export async function createKeyStore(options: KeyStoreOptions): Promise<KeyStore> {
  const { repository, box, algorithm, clock } = options
  let keys = new Map<string, LoadedKey>()
  let current: LoadedKey | undefined
  let jwks: Jwks = { keys: [] }
  let lastMissReload = 0

  async function load(): Promise<void> {
    const rows = await repository.list()
    const next = new Map<string, LoadedKey>()
    let nextCurrent: LoadedKey | undefined
    for (const row of rows) {
      if (!PUBLISHED.has(row.state)) continue
      const loaded = loadKey(row, box)
      next.set(row.kid, loaded)
      if (row.state === 'current') nextCurrent = loaded
    }
    keys = next
    current = nextCurrent
    jwks = { keys: [...next.values()].map((k) => k.jwk) }
  }

  await repository.withLock(async (tx) => {
    const existing = await repository.listIn(tx, ['current', 'standby'])
    const rows = []
    if (!existing.some((k) => k.state === 'current')) {
      const standby = existing.find((k) => k.state === 'standby')
      if (standby) await repository.setState(tx, [standby.kid], 'current', new Date(clock()))
      else rows.push(generateKey(algorithm, 'current', box, clock))
    }
    if (
      !existing.some((k) => k.state === 'standby') ||
      !existing.some((k) => k.state === 'current')
    ) {
      rows.push(generateKey(algorithm, 'standby', box, clock))
    }
    if (rows.length > 0) await repository.insert(tx, rows)
    if (box.enabled) {
      // Keys stored before KEY_ENCRYPTION_SECRET was set are sealed now, not left in clear.
      for (const row of await repository.listIn(tx, ['standby', 'current', 'retired'])) {
        if (!box.isSealed(row.privateKey)) {
          await repository.setPrivateKey(tx, row.kid, box.seal(row.privateKey))
        }
      }
    }
  })
  await load()

  return {
    algorithm,
    sign(claims) {
      if (!current?.sign) throw new Error('No current signing key is loaded')
      return current.sign(claims)
    },
    async publicKeyPem(kid) {
      const hit = keys.get(kid)
      if (hit) return hit.publicPem
      const now = clock()
      if (now - lastMissReload < 1000) return undefined
      lastMissReload = now
      await load()
      return keys.get(kid)?.publicPem
    },
    jwks: () => jwks,
    async rotate() {
      const result = await repository.withLock(async (tx) => {
        const at = new Date(clock())
        const live = await repository.listIn(tx, ['current', 'standby'])
        const old = live.filter((k) => k.state === 'current').map((k) => k.kid)
        const standby = live.find((k) => k.state === 'standby')
        await repository.setState(tx, old, 'retired', at)
        let promoted = standby?.kid
        if (standby) {
          await repository.setState(tx, [standby.kid], 'current', at)
        } else {
          const fresh = generateKey(algorithm, 'current', box, clock)
          await repository.insert(tx, [fresh])
          promoted = fresh.kid
        }
        const next = generateKey(algorithm, 'standby', box, clock)
        await repository.insert(tx, [next])
        return { current: promoted as string, standby: next.kid }
      })
      await load()
      return result
    },
    async revoke(kid) {
      await repository.withLock(async (tx) => {
        const row = await repository.get(tx, kid)
        if (!row) throw new Error(`No signing key has kid ${kid}`)
        if (row.state === 'current') {
          throw new Error('The current key cannot be revoked: rotate first, then revoke it')
        }
        await repository.setState(tx, [kid], 'revoked', new Date(clock()))
      })
      await load()
    },
    reload: load,
    async list() {
      const rows = await repository.list()
      return rows.map(({ kid, alg, state, createdAt, activatedAt, retiredAt, revokedAt }) => ({
        kid,
        alg,
        state,
        createdAt,
        activatedAt,
        retiredAt,
        revokedAt,
      }))
    },
  }
}

function loadKey(row: SigningKey, box: SecretBox): LoadedKey {
  const jwk = row.publicJwk as Jwk
  const publicPem = createPublicKey({ key: jwk, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString()
  const loaded: LoadedKey = { kid: row.kid, state: row.state, jwk, publicPem }
  if (row.state === 'current') {
    const signer = createSigner({
      key: box.open(row.privateKey),
      algorithm: row.alg as SigningAlgorithm,
      kid: row.kid,
      header: { alg: row.alg, typ: ACCESS_TOKEN_TYP },
    })
    loaded.sign = (claims) => signer(claims)
  }
  return loaded
}

function generateKey(
  algorithm: SigningAlgorithm,
  state: 'current' | 'standby',
  box: SecretBox,
  clock: () => number,
) {
  const { publicKey, privateKey } =
    algorithm === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = publicJwk(publicKey, algorithm)
  const now = new Date(clock())
  return {
    kid: jwk.kid,
    alg: algorithm,
    state,
    publicJwk: jwk,
    privateKey: box.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    createdAt: now,
    activatedAt: state === 'current' ? now : null,
  }
}

/** The public JWK with an RFC 7638 thumbprint as `kid`. */
function publicJwk(publicKey: KeyObject, alg: SigningAlgorithm): Jwk {
  const raw = publicKey.export({ format: 'jwk' }) as Record<string, string>
  const members =
    raw.kty === 'OKP'
      ? { crv: raw.crv, kty: raw.kty, x: raw.x }
      : { crv: raw.crv, kty: raw.kty, x: raw.x, y: raw.y }
  const kid = createHash('sha256').update(JSON.stringify(members)).digest('base64url')
  return { ...members, kid, use: 'sig', alg } as Jwk
}
