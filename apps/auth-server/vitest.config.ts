import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite is single-threaded WASM; two files at a time keep a 2-core machine responsive.
    maxWorkers: 2,
  },
})
