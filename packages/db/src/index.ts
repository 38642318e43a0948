import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import * as schema from './schema.ts'

export * from './schema.ts'
export { schema }

export type Schema = typeof schema
/** One handle type for both drivers (a union of the two breaks `.returning()` overloads). */
export type Database = PgDatabase<PgQueryResultHKT, Schema>

export interface DatabaseHandle {
  db: Database
  /** `pglite` (embedded, in memory or under a data directory) or `postgres`. */
  kind: 'pglite' | 'postgres'
  /** Where the data lives, with any password masked: safe to log. */
  location: string
  /** Cheap round trip, for readiness checks. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** A `postgres://` URL; when absent the embedded PGlite is used. */
  url?: string | undefined
  /** PGlite data directory; `memory://` (or unset with `url` unset) keeps it in memory. */
  dataDir?: string | undefined
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean
  /** postgres.js pool size (default 10). */
  maxConnections?: number
}

/** Where the committed SQL migrations are, found through the package so bundles work too. */
export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))

// Any 64-bit constant shared by every instance: concurrent starts serialise on it.
const MIGRATION_LOCK_ID = 7_244_502_411

/**
 * Opens the database and applies pending migrations.
 *
 * PostgreSQL through postgres.js when `url` is given, otherwise embedded PGlite (in memory, or
 * under `dataDir`). Migrations run under a session-level advisory lock on one dedicated
 * connection, so several instances starting together against a fresh database do not race.
 *
 * @example
 * const { db, close } = await createDatabase({ url: process.env.DATABASE_URL, dataDir: '.data/auth' })
 */
export async function createDatabase(options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  const handle = options.url ? openPostgres(options.url, options) : await openPglite(options)
  if (options.migrate === false) return handle
  try {
    await handle.migrate()
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
  return handle
}

interface OpenHandle extends DatabaseHandle {
  migrate(): Promise<void>
}

function openPostgres(url: string, options: DatabaseOptions): OpenHandle {
  const client = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice: () => {},
    connection: { application_name: 'tessera' },
  })
  const db = drizzlePostgres(client, { schema }) as unknown as Database
  return {
    db,
    kind: 'postgres',
    location: maskUrl(url),
    async ping() {
      await client`select 1`
    },
    async close() {
      await client.end({ timeout: 5 })
    },
    async migrate() {
      // A pool of one: the advisory lock is held by the connection that runs the migrations.
      const single = postgres(url, { max: 1, onnotice: () => {} })
      try {
        await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
        await migratePostgres(drizzlePostgres(single, { schema }), { migrationsFolder })
        await single`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
      } finally {
        await single.end({ timeout: 5 })
      }
    },
  }
}

async function openPglite(options: DatabaseOptions): Promise<OpenHandle> {
  const dataDir = options.dataDir && options.dataDir !== 'memory://' ? options.dataDir : undefined
  if (dataDir) await mkdir(dataDir, { recursive: true })
  const client = new PGlite(dataDir)
  await client.waitReady
  const pglite = drizzlePglite(client, { schema })
  return {
    db: pglite as unknown as Database,
    kind: 'pglite',
    location: dataDir ?? 'memory://',
    async ping() {
      await client.query('select 1')
    },
    async close() {
      if (!client.closed) await client.close()
    },
    async migrate() {
      // One PGlite has one connection and one owner process: nothing to serialise against.
      await migratePglite(pglite, { migrationsFolder })
    },
  }
}

function maskUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'postgres://(unparseable url)'
  }
}
