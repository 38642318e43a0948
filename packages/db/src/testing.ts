import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { createDatabase, type DatabaseHandle } from './index.ts'

/**
 * A fresh, migrated database for one test file.
 *
 * With `DATABASE_URL` set, a new PostgreSQL database is created next to the one the URL names
 * (so parallel test files never see each other's rows) and dropped again on `close()`.
 * Otherwise an in-memory PGlite.
 */
export async function createTestDatabase(
  url: string | undefined = process.env.DATABASE_URL,
): Promise<DatabaseHandle> {
  if (!url) return createDatabase({ dataDir: 'memory://' })
  const name = `tessera_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database "${name}"`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const testUrl = new URL(url)
  testUrl.pathname = `/${name}`
  const handle = await createDatabase({ url: testUrl.toString(), maxConnections: 20 })
  return {
    ...handle,
    async close() {
      await handle.close()
      const dropper = postgres(url, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await dropper.end({ timeout: 5 })
      }
    },
  }
}
