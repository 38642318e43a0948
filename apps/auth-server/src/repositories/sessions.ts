import { type Database, type NewSession, type Session, sessions } from '@tessera/db'
import { and, desc, eq, gt, isNull, lt, ne, or, sql } from 'drizzle-orm'

export function createSessionRepository(db: Database) {
  // A Date placeholder, encoded as every timestamp column of the table is.
  const at = (name: string) => sql`${sql.param(sql.placeholder(name), sessions.rotatedAt)}`
  // The refresh hot path, composed once: building this statement anew cost about 250 µs of CPU
  // per rotation, half of a refresh (measured with `pnpm bench`).
  const advanceStatement = db
    .update(sessions)
    .set({
      counter: sql`${sessions.counter} + 1`,
      rotatedAt: at('now'),
      lastUsedAt: at('now'),
      idleExpiresAt: at('idleExpiresAt'),
    })
    .where(
      and(
        eq(sessions.id, sql.placeholder('id')),
        eq(sessions.counter, sql.placeholder('counter')),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, at('now')),
        gt(sessions.idleExpiresAt, at('now')),
      ),
    )
    .returning()
    .prepare('sessions_advance')

  return {
    async insert(session: NewSession): Promise<Session> {
      const [row] = await db.insert(sessions).values(session).returning()
      return row!
    },

    async findById(id: string): Promise<Session | undefined> {
      const [row] = await db.select().from(sessions).where(eq(sessions.id, id))
      return row
    },

    /**
     * The rotation itself: one conditional UPDATE. Of N concurrent refreshes that present the
     * same counter, exactly one matches the row and moves it on; the others get `undefined`.
     */
    async advance(
      id: string,
      counter: number,
      now: Date,
      idleExpiresAt: Date,
    ): Promise<Session | undefined> {
      const [row] = await advanceStatement.execute({ id, counter, now, idleExpiresAt })
      return row
    },

    /** Ends one session; `false` when it was already ended or is not the user's. */
    async revoke(id: string, reason: string, now: Date, userId?: number): Promise<boolean> {
      const rows = await db
        .update(sessions)
        .set({ revokedAt: now, revokedReason: reason })
        .where(
          and(
            eq(sessions.id, id),
            isNull(sessions.revokedAt),
            userId === undefined ? undefined : eq(sessions.userId, userId),
          ),
        )
        .returning({ id: sessions.id })
      return rows.length > 0
    },

    /** Ends every live session of a user, but `exceptId` when given; returns how many. */
    async revokeAllForUser(
      userId: number,
      reason: string,
      now: Date,
      exceptId?: string,
    ): Promise<number> {
      const rows = await db
        .update(sessions)
        .set({ revokedAt: now, revokedReason: reason })
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            exceptId === undefined ? undefined : ne(sessions.id, exceptId),
          ),
        )
        .returning({ id: sessions.id })
      return rows.length
    },

    /** Deletes sessions that ended (revoked or expired) before `before`; returns how many. */
    async deleteEndedBefore(before: Date): Promise<number> {
      const rows = await db
        .delete(sessions)
        .where(
          or(
            lt(sessions.revokedAt, before),
            lt(sessions.expiresAt, before),
            lt(sessions.idleExpiresAt, before),
          ),
        )
        .returning({ id: sessions.id })
      return rows.length
    },

    listLive(userId: number, now: Date): Promise<Session[]> {
      return db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, now),
            gt(sessions.idleExpiresAt, now),
          ),
        )
        .orderBy(desc(sessions.lastUsedAt))
    },
  }
}
export type SessionRepository = ReturnType<typeof createSessionRepository>
