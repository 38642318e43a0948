import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase } from '@tessera/db'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'

let dataDir: string

function cli(args: string[], input?: string) {
  const { DATABASE_URL: _pg, REDIS_URL: _redis, ...inherited } = process.env
  const env = { ...inherited, DATA_DIR: dataDir, LOG_LEVEL: 'silent' }
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: new URL('..', import.meta.url),
    env,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  })
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
})
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true })
})

describe('cli createuser', () => {
  it('creates an account from a piped password, which can then log in', async () => {
    const result = cli(['createuser', 'grace'], 'a long enough password\n')
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/Created user grace/)
    expect(result.status).toBe(0)

    const database = await createDatabase({ dataDir })
    const app = await buildApp(loadConfig({ RATE_LIMIT_LOGIN_PER_MINUTE: '0' }), {
      database,
      logger: false,
    })
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/api/token/',
        payload: { username: 'grace', password: 'a long enough password' },
      })
      expect(login.statusCode).toBe(200)
    } finally {
      await app.close()
      await database.close()
    }
  })

  it('refuses a short password and a taken username with exit code 1', () => {
    const short = cli(['createuser', 'hopper'], 'short\n')
    expect(short.status).toBe(1)
    expect(short.stderr).toMatch(/8 to 256 characters/)
    expect(cli(['createuser', 'lovelace'], 'a long enough password\n').status).toBe(0)
    const taken = cli(['createuser', 'lovelace'], 'another long password\n')
    expect(taken.status).toBe(1)
    expect(taken.stderr).toMatch(/already exists/)
  })
})
