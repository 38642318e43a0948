import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'

// Summarises a V8 `.cpuprofile` (from `BENCH_PROFILE=1 pnpm bench`, or `node --cpu-prof`): self
// time by function and by file, to find the hot path without opening DevTools.
//   pnpm --filter @tessera/bench exec tsx src/profile-summary.ts results/CPU.*.cpuprofile
//   … --callers writeBuffer   (also: who calls a hot function)

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim()
}

function fileOf(node: ProfileNode): string {
  const url = node.callFrame.url
  if (!url) return node.callFrame.functionName || '(native)'
  const path = url.startsWith('file://') ? new URL(url).pathname : url
  const match = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  return match ? match[1]! : relative(process.cwd(), path)
}

function top(totals: Map<string, number>, all: number, count: number): string[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `${((us / all) * 100).toFixed(1).padStart(5)}%  ${name}`)
}

async function summarize(path: string): Promise<void> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  let all = 0
  let idle = 0
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  for (const [id, us] of self) {
    const node = byId.get(id)!
    all += us
    if (node.callFrame.functionName === '(idle)') idle += us
    const name = label(node)
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const file = fileOf(node)
    byFile.set(file, (byFile.get(file) ?? 0) + us)
  }
  console.log(
    `\n${path}: ${(all / 1e6).toFixed(1)} s sampled, ${((idle / all) * 100).toFixed(1)}% idle`,
  )
  console.log('\nself time by function:')
  for (const line of top(byFunction, all, 30)) console.log(line)
  console.log('\nself time by file or package:')
  for (const line of top(byFile, all, 20)) console.log(line)

  const parent = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id)
  // Total time: each sample counts once for every function on its stack.
  const inclusive = new Map<string, number>()
  for (const [id, us] of self) {
    const seen = new Set<string>()
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const name = label(byId.get(up)!)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + us)
    }
  }
  inclusive.delete('(root)')
  console.log('\ntotal time (self and callees) by function:')
  for (const line of top(inclusive, all, 40)) console.log(line)

  if (callersOf) {
    // Who calls the named function: its self time, by the chain of callers above it.
    const stacks = new Map<string, number>()
    for (const [id, us] of self) {
      const node = byId.get(id)!
      if (node.callFrame.functionName !== callersOf) continue
      const chain: string[] = []
      for (let up = parent.get(id); up !== undefined && chain.length < 8; up = parent.get(up)) {
        chain.push(label(byId.get(up)!))
      }
      const key = chain.join('\n        ← ')
      stacks.set(key, (stacks.get(key) ?? 0) + us)
    }
    console.log(`\ncallers of ${callersOf}:`)
    for (const line of top(stacks, all, 6)) console.log(`${line}\n`)
  }
}

const args = process.argv.slice(2)
const at = args.indexOf('--callers')
const callersOf = at === -1 ? undefined : args.splice(at, 2)[1]
for (const path of args) await summarize(path)
