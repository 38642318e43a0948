import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { count, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase, type DatabaseHandle, notes, users } from '../src/index.ts'
import { createTestDatabase } from '../src/testing.ts'

describe('createDatabase', () => {
  let handle: DatabaseHandle

  beforeAll(async () => {
    handle = await createTestDatabase()
  })
  afterAll(async () => {
    await handle.close()
  })

  it('applies the migrations so every table is usable', async () => {
    const [user] = await handle.db
      .insert(users)
      .values({ username: 'ada', passwordHash: 'x' })
      .returning()
    expect(user?.id).toBeTypeOf('number')
    expect(user?.scopes).toEqual(['notes:read', 'notes:write'])
    const [note] = await handle.db
      .insert(notes)
      .values({ ownerId: String(user!.id), title: 'hello' })
      .returning()
    expect(note?.body).toBe('')
  })

  it('treats usernames as unique regardless of case', async () => {
    await expect(
      handle.db.insert(users).values({ username: 'ADA', passwordHash: 'x' }),
    ).rejects.toThrow()
    const rows = await handle.db.select().from(users).where(eq(users.username, 'ada'))
    expect(rows).toHaveLength(1)
  })
})

if (process.env.DATABASE_URL) {
  describe('createDatabase on PostgreSQL', () => {
    it('lets three instances migrate a fresh database at once', async () => {
      const base = await createTestDatabase()
      // createTestDatabase migrated once; drop the tables and race three fresh starts.
      await base.db.execute(sql.raw('drop schema public cascade'))
      await base.db.execute(sql.raw('create schema public'))
      await base.db.execute(sql.raw('drop schema drizzle cascade'))
      const starts = await Promise.all([1, 2, 3].map(() => createDatabase({ url: base.location })))
      try {
        const [row] = await starts[0]!.db.select({ n: count() }).from(users)
        expect(row?.n).toBe(0)
      } finally {
        await Promise.all(starts.map((s) => s.close()))
        await base.close()
      }
    })
  })
}

describe('createDatabase on a PGlite data directory', () => {
  it('refuses a second opener of the same directory while the first is open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-db-'))
    try {
      const first = await createDatabase({ dataDir: dir })
      // The lock names this very process; a holder that is alive but not us is refused.
      await writeFile(join(dir, 'tessera.lock'), String(process.ppid))
      await expect(createDatabase({ dataDir: dir })).rejects.toThrow(/in use by process/)
      await first.close()
      const again = await createDatabase({ dataDir: dir })
      await again.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
