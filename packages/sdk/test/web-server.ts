import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { dirname, extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const kyDir = dirname(createRequire(import.meta.url).resolve('ky'))
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
}
const HOP_BY_HOP = ['connection', 'content-length', 'transfer-encoding', 'host', 'keep-alive']

export interface WebServer {
  url: string
  /** Refresh-token grants that reached the auth server through this origin. */
  refreshes(): number
  close(): Promise<void>
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function serveFile(response: ServerResponse, root: string, path: string): Promise<void> {
  const file = normalize(join(root, path))
  if (!file.startsWith(root)) {
    response.writeHead(403).end()
    return
  }
  try {
    const content = await readFile(file)
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
    response.end(content)
  } catch {
    response.writeHead(404).end()
  }
}

/**
 * One origin for the page, the built SDK, ky, and both servers behind it (`/resource/*` to the
 * resource server, anything else to the auth server): no CORS in the way. Refresh grants are
 * held back `refreshDelayMs`, so two tabs refreshing at once really overlap.
 */
export async function startWebServer(
  servers: { authUrl: string; resourceUrl: string },
  { refreshDelayMs = 300 } = {},
): Promise<WebServer> {
  let refreshes = 0

  async function proxy(request: IncomingMessage, response: ServerResponse, target: string) {
    const body = await bodyOf(request)
    if (request.method === 'POST' && request.url?.startsWith('/oauth/token')) {
      if (new URLSearchParams(body.toString()).get('grant_type') === 'refresh_token') {
        refreshes += 1
        await new Promise((resolve) => setTimeout(resolve, refreshDelayMs))
      }
    }
    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string' && !HOP_BY_HOP.includes(name)) headers.set(name, value)
    }
    const upstream = await fetch(target, {
      method: request.method ?? 'GET',
      headers,
      body: body.length > 0 ? new Uint8Array(body) : undefined,
    })
    const answer = Buffer.from(await upstream.arrayBuffer())
    const out: Record<string, string> = {}
    upstream.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.includes(name) && name !== 'content-encoding') out[name] = value
    })
    response.writeHead(upstream.status, out).end(answer)
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://local').pathname
    const handled =
      path === '/'
        ? serveFile(response, join(packageDir, 'test/browser'), 'index.html')
        : path.startsWith('/sdk/')
          ? serveFile(response, join(packageDir, 'dist'), path.slice('/sdk/'.length))
          : path.startsWith('/ky/')
            ? serveFile(response, kyDir, path.slice('/ky/'.length))
            : path === '/favicon.ico'
              ? Promise.resolve(void response.writeHead(204).end())
              : path.startsWith('/resource/')
                ? proxy(
                    request,
                    response,
                    servers.resourceUrl + (request.url ?? '').slice('/resource'.length),
                  )
                : proxy(request, response, servers.authUrl + (request.url ?? ''))
    handled.catch((error: unknown) => {
      response.writeHead(502).end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    refreshes: () => refreshes,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
