import { type Database, type NewUser, type User, users } from '@tessera/db'
import { eq, sql } from 'drizzle-orm'

export function createUserRepository(db: Database) {
  return {
    async findByUsername(username: string): Promise<User | undefined> {
      const [row] = await db
        .select()
        .from(users)
        .where(sql`lower(${users.username}) = lower(${username})`)
      return row
    },

    async findById(id: number): Promise<User | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id))
      return row
    },

    /** Inserts a user; `undefined` when the username is taken (case-insensitively). */
    async insert(user: NewUser): Promise<User | undefined> {
      const [row] = await db.insert(users).values(user).onConflictDoNothing().returning()
      return row
    },

    async recordLogin(id: number, at: Date, newPasswordHash?: string): Promise<void> {
      await db
        .update(users)
        .set(
          newPasswordHash
            ? { lastLoginAt: at, passwordHash: newPasswordHash }
            : { lastLoginAt: at },
        )
        .where(eq(users.id, id))
    },

    async setPassword(id: number, passwordHash: string, at: Date): Promise<void> {
      await db.update(users).set({ passwordHash, passwordChangedAt: at }).where(eq(users.id, id))
    },

    async setActive(id: number, isActive: boolean): Promise<void> {
      await db.update(users).set({ isActive }).where(eq(users.id, id))
    },
  }
}
export type UserRepository = ReturnType<typeof createUserRepository>
