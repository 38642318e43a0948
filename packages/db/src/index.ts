import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
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

/**
 * Where the committed SQL migrations are. Found through the package first, so an app bundle that
 * inlined this file still finds them in node_modules/@tessera/db.
 */
export const migrationsFolder = findMigrationsFolder()

function findMigrationsFolder(): string {
  const candidates: string[] = []
  try {
    candidates.push(
      fileURLToPath(new URL('./drizzle', import.meta.resolve('@tessera/db/package.json'))),
    )
  } catch {
    // Not resolvable by name from here (e.g. a test runner without import.meta.resolve).
  }
  candidates.push(fileURLToPath(new URL('../drizzle', import.meta.url)))
  const found = candidates.find((dir) => existsSync(join(dir, 'meta', '_journal.json')))
  if (!found)
    throw new Error(`@tessera/db migrations not found (looked in ${candidates.join(', ')})`)
  return found
}

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
  const unlock = dataDir ? await lockDataDir(dataDir) : async () => {}
  let client: PGlite
  try {
    client = new PGlite(dataDir)
    await client.waitReady
  } catch (error) {
    await unlock()
    throw error
  }
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
      await unlock()
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

/** Two processes on one PGlite data directory corrupt it: a second opener is told, not let in. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
  readonly code = 'DATA_DIR_IN_USE'
}

async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true })
  const lockFile = join(dataDir, 'tessera.lock')
  try {
    await writeFile(lockFile, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim())
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new DataDirInUseError(
        `The embedded database in ${dataDir} is in use by process ${holder} (is \`pnpm dev\` running?). ` +
          'Stop that process first, or set DATABASE_URL to share a PostgreSQL server.',
      )
    }
    // A stale lock from a process that died: take it over.
    await writeFile(lockFile, String(process.pid))
  }
  return () => rm(lockFile, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
