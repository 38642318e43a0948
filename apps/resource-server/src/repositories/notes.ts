import { type Database, type Note as NoteRow, notes } from '@tessera/db'
import { and, desc, eq, sql } from 'drizzle-orm'

export interface NoteChanges {
  title?: string | undefined
  body?: string | undefined
}

/** Notes of one owner at a time: every query is scoped by `ownerId`, so a foreign id finds nothing. */
export interface NotesRepository {
  list(ownerId: string): Promise<NoteRow[]>
  create(ownerId: string, note: { title: string; body?: string | undefined }): Promise<NoteRow>
  find(ownerId: string, id: string): Promise<NoteRow | undefined>
  update(ownerId: string, id: string, changes: NoteChanges): Promise<NoteRow | undefined>
  remove(ownerId: string, id: string): Promise<boolean>
}

/**
 * Drizzle queries for the `notes` table.
 *
 * @example
 * const repo = createNotesRepository(handle.db)
 * const mine = await repo.list(claims.sub)
 */
export function createNotesRepository(db: Database): NotesRepository {
  const owned = (ownerId: string, id: string) => and(eq(notes.id, id), eq(notes.ownerId, ownerId))
  return {
    list(ownerId) {
      return db
        .select()
        .from(notes)
        .where(eq(notes.ownerId, ownerId))
        .orderBy(desc(notes.createdAt), desc(notes.id))
    },
    async create(ownerId, note) {
      const [row] = await db
        .insert(notes)
        .values({ ownerId, title: note.title, body: note.body ?? '' })
        .returning()
      return row!
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
