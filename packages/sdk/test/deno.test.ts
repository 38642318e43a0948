import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../src/index.ts'
import { requireBuiltSdk } from './built.ts'
import { ACCESS_TOKEN_LIFETIME_MS } from './global-setup.ts'
import { PASSWORD, sharedServers, uniqueUsername } from './servers.ts'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const deno = join(packageDir, 'node_modules/.bin/deno')

const servers = sharedServers()
let denoDir: string

beforeAll(async () => {
  await requireBuiltSdk()
  denoDir = await mkdtemp(join(tmpdir(), 'tessera-deno-'))
})
afterAll(async () => {
  if (denoDir) await rm(denoDir, { recursive: true, force: true })
})

describe('Deno', () => {
  it('imports the built SDK, logs in against the real auth server and refreshes on time', async () => {
    const username = uniqueUsername('deno')
    const node = createClient({ authUrl: servers.authUrl })
    await node.register({ username, password: PASSWORD })
    node.dispose()

    await requireBuiltSdk()
    const { stdout } = await run(
      deno,
      [
        'run',
        '--allow-net=127.0.0.1',
        '--allow-read',
        '--no-prompt',
        'test/deno/smoke.ts',
        servers.authUrl,
        username,
        PASSWORD,
        String(ACCESS_TOKEN_LIFETIME_MS),
      ],
      {
        cwd: packageDir,
        env: { ...process.env, DENO_DIR: denoDir, NO_COLOR: '1' },
        timeout: 60_000,
      },
    )

    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '')).toEqual({
      wrongPassword: 'invalid_credentials',
      signedIn: 'Bearer',
      username,
      sub: true,
      refreshed: true,
      signedOut: false,
      rotated: true,
      sameSession: true,
    })
  })
})
