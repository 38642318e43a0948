import { readdir, readFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { describe, expect, it } from 'vitest'

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

describe('packages/verify sources', () => {
  it('import no Node builtin, so the verifier runs in Deno and edge runtimes', async () => {
    const files = await sources()
    expect(files.length).toBeGreaterThan(5)
    for (const [name, text] of files) {
      const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!)
      for (const specifier of specifiers) {
        const bare = specifier.replace(/^node:/, '').split('/')[0]!
        expect(
          specifier.startsWith('node:') || builtins.has(bare),
          `${name} imports ${specifier}`,
        ).toBe(false)
      }
    }
  })

  it('use no Node-only globals', async () => {
    for (const [name, text] of await sources()) {
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      expect(code, name).not.toMatch(/\b(?:Buffer|process|require|__dirname|setImmediate)\b/)
    }
  })
})
