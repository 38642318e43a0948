import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { builtinModules } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIENCE, createSigner, flipSignature, ISSUER, type Signer, T0 } from './helpers.ts'

const sourceDir = new URL('../src/', import.meta.url)
const builtins = new Set(builtinModules)

async function sources(): Promise<[string, string][]> {
  const names = (await readdir(sourceDir)).filter((name) => name.endsWith('.ts'))
  return Promise.all(
    names.map(
      async (name) => [name, await readFile(new URL(name, sourceDir), 'utf8')] as [string, string],
    ),
  )
}

/** Every module specifier of a source: static, re-export, side-effect and dynamic imports, in any quotes. */
function specifiers(text: string): string[] {
  return [...text.matchAll(/\b(?:from|import)\s*\(?\s*(['"`])(.+?)\1/g)].map((m) => m[2]!)
}

function isNodeBuiltin(specifier: string): boolean {
  const bare = specifier.replace(/^node:/, '').split('/')[0]!
  return specifier.startsWith('node:') || builtins.has(bare)
}

describe('packages/verify sources', () => {
  it('import no Node builtin, so the verifier runs in Deno and edge runtimes', async () => {
    const files = await sources()
    expect(files.length).toBeGreaterThan(5)
    for (const [name, text] of files) {
      for (const specifier of specifiers(text)) {
        expect(isNodeBuiltin(specifier), `${name} imports ${specifier}`).toBe(false)
      }
    }
  })

  it.each([
    ["import { randomBytes } from 'node:crypto'"],
    ['import { randomBytes } from "node:crypto"'],
    ['import { randomBytes } from `node:crypto`'],
    ["import fs from 'fs'"],
    ['export { readFile } from "fs/promises"'],
    ["import 'node:process'"],
    ['const { Buffer } = await import("buffer")'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a line of source text under test
    ['const crypto = await import(`node:${name}`)'],
    ['import type { IncomingMessage } from "http"'],
  ])('would catch %s', (line) => {
    expect(specifiers(line).some(isNodeBuiltin)).toBe(true)
  })

  it('use no Node-only globals', async () => {
    for (const [name, text] of await sources()) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      expect(code, name).not.toMatch(/\b(?:Buffer|process|require|__dirname|setImmediate)\b/)
    }
  })
})

describe('under Deno', () => {
  const run = promisify(execFile)
  const packageDir = fileURLToPath(new URL('..', import.meta.url))
  const deno = join(packageDir, 'node_modules/.bin/deno')
  let denoDir: string
  let ed: Signer
  let server: Server

  beforeAll(async () => {
    denoDir = await mkdtemp(join(tmpdir(), 'tessera-verify-deno-'))
    ed = await createSigner('EdDSA', 'ed-deno')
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' })
      response.end(JSON.stringify({ keys: [ed.jwk] }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    if (denoDir) await rm(denoDir, { recursive: true, force: true })
  })

  it('verifies tokens with the TypeScript sources, against a static key and a JWKS', async () => {
    const token = await ed.sign({ sub: 'deno' })
    const input = {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwk: ed.jwk,
      jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
      token,
      forged: flipSignature(token),
      now: T0,
    }
    const { stdout } = await run(
      deno,
      ['run', '--no-prompt', '--allow-net=127.0.0.1', 'test/deno/smoke.ts', JSON.stringify(input)],
      {
        cwd: packageDir,
        env: { ...process.env, DENO_DIR: denoDir, NO_COLOR: '1' },
        timeout: 60_000,
      },
    )
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '')).toEqual({
      sub: 'deno',
      frozen: true,
      cached: true,
      forged: 'SIGNATURE_INVALID',
      remote: 'deno',
      remoteKids: [ed.kid],
    })
  })
})
