import { defineConfig } from 'tsdown'

// The production bundle: workspace packages (@tessera/verify, claims, db) are inlined, npm
// dependencies stay external (package.json lists every one the inlined packages need), and the
// migrations are found through @tessera/db at run time.
export default defineConfig({
  entry: { server: 'src/server.ts' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  dts: false,
  clean: true,
  deps: { alwaysBundle: [/^@tessera\//] },
})
