import { type Database, serverSecrets } from '@tessera/db'
import { eq } from 'drizzle-orm'

export function createServerSecretRepository(db: Database) {
  return {
    /** Stores `value` under `name` unless another instance got there first; returns the winner. */
    async getOrInsert(name: string, value: string): Promise<string> {
      await db.insert(serverSecrets).values({ name, value }).onConflictDoNothing()
      const [row] = await db.select().from(serverSecrets).where(eq(serverSecrets.name, name))
      return row!.value
    },

    async update(name: string, value: string): Promise<void> {
      await db.update(serverSecrets).set({ value }).where(eq(serverSecrets.name, name))
    },
  }
}
