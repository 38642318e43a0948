import { defineConfig } from 'tsdown'

// The production bundle: workspace packages are inlined, npm dependencies stay external (the app
// lists every one of them itself), and migrations are found through @tessera/db at run time.
export default defineConfig({
  entry: { server: 'src/server.ts', cli: 'src/cli.ts', index: 'src/index.ts' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  dts: false,
  clean: true,
  noExternal: [/^@tessera\//],
})
