import { type Database, type NewSigningKey, type SigningKey, signingKeys } from '@tessera/db'
import { asc, eq, inArray, sql } from 'drizzle-orm'

export type KeyState = 'standby' | 'current' | 'retired' | 'revoked'

export function createSigningKeyRepository(db: Database) {
  return {
    list(): Promise<SigningKey[]> {
      return db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt))
    },

    /**
     * Runs `fn` holding a transaction-scoped advisory lock: instances that start or rotate at
     * the same time take turns instead of each minting keys.
     */
    withLock<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(7244502412)`)
        return fn(tx as unknown as Database)
      })
    },

    async insert(tx: Database, rows: NewSigningKey[]): Promise<void> {
      await tx.insert(signingKeys).values(rows)
    },

    async setState(tx: Database, kids: string[], state: KeyState, at: Date): Promise<void> {
      if (kids.length === 0) return
      const stamp =
        state === 'current'
          ? { activatedAt: at }
          : state === 'retired'
            ? { retiredAt: at }
            : state === 'revoked'
              ? { revokedAt: at }
              : {}
      await tx
        .update(signingKeys)
        .set({ state, ...stamp })
        .where(inArray(signingKeys.kid, kids))
    },

    async listIn(tx: Database, states: KeyState[]): Promise<SigningKey[]> {
      return tx
        .select()
        .from(signingKeys)
        .where(inArray(signingKeys.state, states))
        .orderBy(asc(signingKeys.createdAt))
    },

    async setPrivateKey(tx: Database, kid: string, privateKey: string): Promise<void> {
      await tx.update(signingKeys).set({ privateKey }).where(eq(signingKeys.kid, kid))
    },

    async get(tx: Database, kid: string): Promise<SigningKey | undefined> {
      const [row] = await tx.select().from(signingKeys).where(eq(signingKeys.kid, kid))
      return row
    },
  }
}
export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>
