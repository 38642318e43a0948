import { access } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../dist/index.mjs', import.meta.url))

/** The browser and Deno tests run the published build; `pnpm test` makes it first. */
export async function requireBuiltSdk(): Promise<void> {
  try {
    await access(entry)
  } catch {
    throw new Error(`${entry} is missing: build the SDK first (pnpm --filter @tessera/sdk build)`)
  }
}
