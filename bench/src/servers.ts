import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ServerProcess {
  name: string
  url: string
  pid: number
  /** Peak resident set size of the process so far (`VmHWM`), in bytes; start-up included. */
  peakRss(): number
  /** Resident set size now (`VmRSS`), in bytes. */
  rss(): number
  /** CPU time the process has used so far (user + system), in seconds; `NaN` off Linux. */
  cpuSeconds(): number
  /** SIGTERM, then waits for the exit (the servers close gracefully; CPU profiles are written). */
  stop(): Promise<void>
}

export interface StartOptions {
  name: string
  /** The production bundle, e.g. `apps/auth-server/dist/server.mjs`. */
  entry: string
  port: number
  env: Record<string, string>
  /** Resolves once the server answers as ready. */
  ready: (url: string) => Promise<boolean>
  /** Extra Node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[]
  cwd: string
}

/** A free TCP port on 127.0.0.1, found by letting the kernel pick one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

/**
 * Starts a server bundle in its own process and waits until it answers. A start that fails is
 * tried again (twice): on a busy machine the embedded database's first start can outlast
 * Fastify's 10 s plugin timeout.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options)
    } catch (error) {
      if (attempt === 3) throw error
      process.stderr.write(`bench: ${options.name} did not start (attempt ${attempt}), again…\n`)
    }
  }
}

async function startOnce(options: StartOptions): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${options.port}`
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry], {
    cwd: options.cwd,
    env: {
      // Only what the server needs: a developer's own REDIS_URL or DATA_DIR must not leak in.
      ...pick(process.env, ['PATH', 'HOME', 'TMPDIR']),
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(options.port),
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-16_384)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  let gone = false
  void exited.then(() => {
    gone = true
  })

  const deadline = Date.now() + 60_000
  for (;;) {
    if (gone) throw new Error(`${options.name} exited during start-up:\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${options.name} did not become ready within 60 s:\n${output}`)
    }
    if (await options.ready(url).catch(() => false)) break
    await sleep(100)
  }

  return {
    name: options.name,
    url,
    pid: child.pid!,
    peakRss: () => readStatus(child, 'VmHWM'),
    rss: () => readStatus(child, 'VmRSS'),
    cpuSeconds: () => readCpuSeconds(child),
    async stop() {
      if (gone) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

// Clock ticks per second of /proc/<pid>/stat: USER_HZ, 100 on every Linux architecture we run on.
const USER_HZ = 100

function readCpuSeconds(child: ChildProcess): number {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ
  } catch {
    return Number.NaN
  }
}

function readStatus(child: ChildProcess, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)
    return match ? Number(match[1]) * 1024 : Number.NaN
  } catch {
    // Not Linux: no /proc.
    return Number.NaN
  }
}

function pick(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined) out[name] = value
  }
  return out
}
