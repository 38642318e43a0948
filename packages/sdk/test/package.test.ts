import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { requireBuiltSdk } from './built.ts'

const read = (path: string) => readFile(new URL(`../${path}`, import.meta.url), 'utf8')

describe('the published package', () => {
  it('takes its dependencies as ranges, so an app that also uses ky gets one copy', async () => {
    const { dependencies } = JSON.parse(await read('package.json')) as {
      dependencies: Record<string, string>
    }
    for (const range of Object.values(dependencies)) expect(range).toMatch(/^\^\d/)
  })

  it('imports nothing but its dependencies: no workspace package, no file outside dist', async () => {
    await requireBuiltSdk()
    const { dependencies } = JSON.parse(await read('package.json')) as {
      dependencies: Record<string, string>
    }
    for (const file of ['dist/index.mjs', 'dist/index.d.mts']) {
      const source = await read(file)
      const imported = [...source.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)].map((match) => match[1])
      expect(imported).toContain('ky')
      expect(imported.every((name) => name !== undefined && name in dependencies)).toBe(true)
    }
  })
})
