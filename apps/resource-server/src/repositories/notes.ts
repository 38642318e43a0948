import { type Database, type Note as NoteRow, notes } from '@tessera/db'
import { and, count, desc, eq, getTableColumns, sql } from 'drizzle-orm'

export interface NoteChanges {
  title?: string | undefined
  body?: string | undefined
}

/** Where a page starts: after the note with this `created_at` (microseconds, UTC) and id. */
export interface NotePosition {
  /** `created_at` in full precision, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (a JS Date keeps only ms). */
  createdAt: string
  id: string
}

/** A row with its position in the newest-first order, to resume a listing after it. */
export type ListedNote = NoteRow & { position: NotePosition }

/** Notes of one owner at a time: every query is scoped by `ownerId`, so a foreign id finds nothing. */
export interface NotesRepository {
  /** Newest first, `limit` of them, strictly after `before` when given. */
  list(
    ownerId: string,
    page: { limit: number; before?: NotePosition | undefined },
  ): Promise<ListedNote[]>
  /** The new note, or `undefined` when the owner already has `maxPerOwner` notes. */
  create(
    ownerId: string,
    note: { title: string; body?: string | undefined },
    maxPerOwner: number,
  ): Promise<NoteRow | undefined>
  find(ownerId: string, id: string): Promise<NoteRow | undefined>
  update(ownerId: string, id: string, changes: NoteChanges): Promise<NoteRow | undefined>
  remove(ownerId: string, id: string): Promise<boolean>
}

/** First key of the advisory locks on one owner's notes (the second is a hash of the owner). */
const NOTES_LOCK_CLASS = 0x6e6f7465 // "note"

/**
 * Drizzle queries for the `notes` table.
 *
 * @example
 * const repo = createNotesRepository(handle.db)
 * const mine = await repo.list(claims.sub, { limit: 50 })
 */
export function createNotesRepository(db: Database): NotesRepository {
  const owned = (ownerId: string, id: string) => and(eq(notes.id, id), eq(notes.ownerId, ownerId))
  return {
    async list(ownerId, { limit, before }) {
      const rows = await db
        .select({
          ...getTableColumns(notes),
          positionAt: sql<string>`to_char(${notes.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        })
        .from(notes)
        .where(
          and(
            eq(notes.ownerId, ownerId),
            before === undefined
              ? undefined
              : sql`(${notes.createdAt}, ${notes.id}) < (${before.createdAt}::timestamptz, ${before.id}::uuid)`,
          ),
        )
        .orderBy(desc(notes.createdAt), desc(notes.id))
        .limit(limit)
      return rows.map(({ positionAt, ...row }) => ({
        ...row,
        position: { createdAt: positionAt, id: row.id },
      }))
    },
    create(ownerId, note, maxPerOwner) {
      return db.transaction(async (tx) => {
        // Serialises the creations of one owner, so that concurrent ones cannot all pass the
        // count: the quota holds exactly, not "give or take the requests in flight".
        await tx.execute(
          sql`select pg_advisory_xact_lock(${NOTES_LOCK_CLASS}, hashtext(${ownerId}))`,
        )
        const [counted] = await tx
          .select({ notes: count() })
          .from(notes)
          .where(eq(notes.ownerId, ownerId))
        if (counted!.notes >= maxPerOwner) return undefined
        const [row] = await tx
          .insert(notes)
          .values({ ownerId, title: note.title, body: note.body ?? '' })
          .returning()
        return row!
      })
    },
    async find(ownerId, id) {
      const [row] = await db.select().from(notes).where(owned(ownerId, id))
      return row
    },
    async update(ownerId, id, changes) {
      const [row] = await db
        .update(notes)
        .set({
          ...(changes.title === undefined ? {} : { title: changes.title }),
          ...(changes.body === undefined ? {} : { body: changes.body }),
          updatedAt: sql`now()`,
        })
        .where(owned(ownerId, id))
        .returning()
      return row
    },
    async remove(ownerId, id) {
      const rows = await db.delete(notes).where(owned(ownerId, id)).returning({ id: notes.id })
      return rows.length > 0
    },
  }
}
