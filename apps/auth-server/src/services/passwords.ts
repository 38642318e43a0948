import { type Algorithm, hash, verify } from '@node-rs/argon2'

// `Algorithm` is an ambient const enum: its Argon2id member, spelled out for type stripping.
const ARGON2ID = 2 as Algorithm.Argon2id

/** OWASP's Argon2id floor: m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2ID = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export interface PasswordParameters {
  memoryCost: number
  timeCost: number
  parallelism: number
}

export interface PasswordCheck {
  ok: boolean
  /** The stored hash used other parameters than the current ones: store a new one. */
  needsRehash: boolean
}

export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** Verifies against `storedHash`, or against a dummy hash when there is none (unknown user). */
  verify(storedHash: string | null, password: string): Promise<PasswordCheck>
}

/**
 * Argon2id hashing with a dummy verification for unknown users, so a login takes the same time
 * whether or not the username exists.
 *
 * @example
 * const passwords = await createPasswordHasher()
 * const { ok, needsRehash } = await passwords.verify(user?.passwordHash ?? null, password)
 */
export async function createPasswordHasher(
  parameters: PasswordParameters = OWASP_ARGON2ID,
): Promise<PasswordHasher> {
  const options = { algorithm: ARGON2ID, ...parameters }
  const current = `m=${parameters.memoryCost},t=${parameters.timeCost},p=${parameters.parallelism}`
  const dummyHash = await hash(crypto.randomUUID(), options)
  return {
    hash: (password) => hash(password, options),
    async verify(storedHash, password) {
      if (storedHash === null) {
        await verify(dummyHash, password).catch(() => false)
        return { ok: false, needsRehash: false }
      }
      const ok = await verify(storedHash, password).catch(() => false)
      return { ok, needsRehash: ok && !storedHash.startsWith(`$argon2id$v=19$${current}$`) }
    },
  }
}
