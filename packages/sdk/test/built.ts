import { access } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../dist/index.mjs', import.meta.url))

/**
 * The browser, Deno and types tests run the published build; `pnpm test` makes it first. A build
 * running elsewhere in the same tree (turbo, a benchmark) empties dist/ for a moment: wait it out.
 */
export async function requireBuiltSdk(): Promise<void> {
  for (let waited = 0; ; waited += 250) {
    try {
      await access(entry)
      return
    } catch {
      if (waited >= 15_000) {
        throw new Error(
          `${entry} is missing: build the SDK first (pnpm --filter @tessera/sdk build)`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}
