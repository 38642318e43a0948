import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'

export interface BenchDatabase {
  /** The URL the servers get. */
  url: string
  /** e.g. `PostgreSQL 15.20`. */
  version: string
  drop(): Promise<void>
}

interface Sql {
  unsafe(query: string): Promise<Record<string, unknown>[]>
  end(options?: { timeout?: number }): Promise<void>
}
type Postgres = (url: string, options: Record<string, unknown>) => Sql

// postgres.js is resolved through the auth server, which depends on it: the bench then needs no
// database driver of its own, and uses the very version the servers use.
function loadPostgres(): Postgres {
  const require = createRequire(import.meta.resolve('@tessera/auth-server/package.json'))
  return require('postgres') as Postgres
}

/**
 * A new, empty PostgreSQL database beside the one `url` names (as `@tessera/db/testing` does for
 * tests), so every run starts clean and leaves nothing behind; `drop()` removes it.
 */
export async function createBenchDatabase(url: string): Promise<BenchDatabase> {
  const postgres = loadPostgres()
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  let version: string
  try {
    await admin.unsafe(`create database "${name}"`)
    const [row] = await admin.unsafe('show server_version')
    version = `PostgreSQL ${String(row?.server_version ?? '?').split(' ')[0]}`
  } finally {
    await admin.end({ timeout: 5 })
  }
  const benchUrl = new URL(url)
  benchUrl.pathname = `/${name}`
  return {
    url: benchUrl.toString(),
    version,
    async drop() {
      const dropper = postgres(url, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await dropper.end({ timeout: 5 })
      }
    },
  }
}
