import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireBuiltSdk } from './built.ts'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin/tsc')
const typesNode = dirname(require.resolve('@types/node/package.json'))

let dir: string
beforeAll(async () => {
  await requireBuiltSdk()
  dir = await mkdtemp(join(tmpdir(), 'tessera-types-'))
  await mkdir(join(dir, 'node_modules/@tessera'), { recursive: true })
  await mkdir(join(dir, 'node_modules/@types'), { recursive: true })
  await symlink(packageDir, join(dir, 'node_modules/@tessera/sdk'), 'dir')
  await symlink(typesNode, join(dir, 'node_modules/@types/node'), 'dir')
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }')
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the published types', () => {
  it('compile in a Node program without the DOM library, and with skipLibCheck off', async () => {
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    )
    await writeFile(
      join(dir, 'index.ts'),
      [
        "import { createClient, createMemoryStorage, isTesseraError } from '@tessera/sdk'",
        "const client = createClient({ authUrl: 'http://localhost:4000', storage: createMemoryStorage() })",
        "await client.login({ username: 'ada', password: 'x' }).catch((error: unknown) => {",
        '  if (isTesseraError(error)) console.error(error.code)',
        '})',
      ].join('\n'),
    )

    await requireBuiltSdk()
    const result = await run(process.execPath, [tsc, '-p', dir]).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    )

    expect(result).toBe('ok')
  })
})
