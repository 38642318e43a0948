import { access } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../src/index.ts'
import { requireBuiltSdk } from './built.ts'
import { ACCESS_TOKEN_LIFETIME_MS as LIFETIME_MS } from './global-setup.ts'
import { PASSWORD, sharedServers, sleep, uniqueUsername } from './servers.ts'
import { startWebServer, type WebServer } from './web-server.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

interface Harness {
  events: string[]
  hasWebLocks(): boolean
  login(username: string, password: string): Promise<string>
  restricted(): Promise<string>
  accessToken(): Promise<string>
  signedIn(): Promise<boolean>
  logout(): Promise<string>
  foreign(url: string): Promise<string>
  openTwin(): void
}
declare global {
  interface Window {
    harness: Harness
  }
}

const servers = sharedServers()
let web: WebServer
let browser: Browser

beforeAll(async () => {
  await requireBuiltSdk()
  try {
    await access(CHROMIUM)
  } catch {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`,
    )
  }
  web = await startWebServer(servers)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
})
afterAll(async () => {
  await browser?.close()
  await web?.close()
})

async function registered(): Promise<string> {
  const username = uniqueUsername('browser')
  const client = createClient({ authUrl: servers.authUrl })
  await client.register({ username, password: PASSWORD })
  client.dispose()
  return username
}

async function openTab(
  context: Awaited<ReturnType<Browser['newContext']>>,
  { query = '', opened }: { query?: string; opened?: Page } = {},
): Promise<Page> {
  await requireBuiltSdk()
  const page = opened ?? (await context.newPage())
  const failures: string[] = []
  page.on('pageerror', (error) => failures.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') failures.push(message.text())
  })
  page.on('response', (response) => {
    if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`)
  })
  if (!opened) await page.goto(`${web.url}/${query}`)
  await page
    .waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 10_000 })
    .catch(() => {
      throw new Error(
        `the page did not load the SDK: ${failures.join('; ') || 'no error reported'}`,
      )
    })
  return page
}

/**
 * Another origin (the same host on another port) that lets any page call it, records the
 * Authorization header it gets, and refuses with invalid_token.
 */
async function startForeignOrigin(): Promise<{
  url: string
  authorizations: (string | undefined)[]
  close(): Promise<void>
}> {
  const authorizations: (string | undefined)[] = []
  const server: Server = createServer((request, response) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization',
      'access-control-expose-headers': 'www-authenticate',
    }
    if (request.method === 'OPTIONS') return void response.writeHead(204, cors).end()
    authorizations.push(request.headers.authorization)
    response
      .writeHead(401, {
        ...cors,
        'content-type': 'application/json',
        'www-authenticate': 'Bearer error="invalid_token"',
      })
      .end('{"detail":"no","code":"token_not_valid"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('in headless Chromium', () => {
  it('sends the token to no other origin, not even another port of the same host', async () => {
    const username = await registered()
    const foreign = await startForeignOrigin()
    const context = await browser.newContext()
    try {
      const page = await openTab(context)
      await page.evaluate(({ u, p }) => window.harness.login(u, p), { u: username, p: PASSWORD })
      const refreshesBefore = web.refreshes()

      const result = await page.evaluate(
        (url) => window.harness.foreign(url),
        `${foreign.url}/api/restricted/`,
      )

      expect(result).toBe('error:unauthorized')
      expect(foreign.authorizations).toEqual([undefined])
      expect(web.refreshes()).toBe(refreshesBefore)
    } finally {
      await context.close()
      await foreign.close()
    }
  })

  it('logs in with the built SDK and survives a refresh', async () => {
    const username = await registered()
    const context = await browser.newContext()
    try {
      const page = await openTab(context)

      expect(
        await page.evaluate(({ u, p }) => window.harness.login(u, p), { u: username, p: PASSWORD }),
      ).toBe('Bearer')
      expect(await page.evaluate(() => window.harness.restricted())).toMatch(/./)
      const refreshesBefore = web.refreshes()

      await sleep(LIFETIME_MS + 200)

      const message = await page.evaluate(() => window.harness.restricted())
      expect(message).not.toMatch(/^error:/)
      expect(web.refreshes() - refreshesBefore).toBe(1)
      expect(await page.evaluate(() => window.harness.events)).toEqual(['signed_in', 'refreshed'])
    } finally {
      await context.close()
    }
  })

  it('shares one refresh between two tabs through Web Locks and BroadcastChannel', async () => {
    const username = await registered()
    const context = await browser.newContext()
    try {
      const first = await openTab(context)
      expect(await first.evaluate(() => window.harness.hasWebLocks())).toBe(true)
      await first.evaluate(({ u, p }) => window.harness.login(u, p), { u: username, p: PASSWORD })
      const second = await openTab(context)
      expect(await second.evaluate(() => window.harness.signedIn())).toBe(true)

      await sleep(LIFETIME_MS + 200)
      const refreshesBefore = web.refreshes()
      const [tokenA, tokenB] = await Promise.all([
        first.evaluate(() => window.harness.accessToken()),
        second.evaluate(() => window.harness.accessToken()),
      ])

      expect(tokenA).not.toMatch(/^error:/)
      expect(web.refreshes() - refreshesBefore).toBe(1)
      expect(tokenB).toBe(tokenA)
      expect(await second.evaluate(() => window.harness.restricted())).not.toMatch(/^error:/)
      expect(await second.evaluate(() => window.harness.events)).toContain('refreshed')

      expect(await first.evaluate(() => window.harness.logout())).toBe('ok')
      await expect
        .poll(() => second.evaluate(() => window.harness.events.at(-1)))
        .toBe('signed_out')
      expect(await second.evaluate(() => window.harness.restricted())).toBe('error:not_signed_in')
    } finally {
      await context.close()
    }
  })

  it('refreshes once for a duplicated tab holding a copy of its sessionStorage', async () => {
    const username = await registered()
    const context = await browser.newContext()
    try {
      const first = await openTab(context, { query: '?storage=session' })
      await first.evaluate(({ u, p }) => window.harness.login(u, p), { u: username, p: PASSWORD })
      const [opened] = await Promise.all([
        context.waitForEvent('page'),
        first.evaluate(() => window.harness.openTwin()),
      ])
      const twin = await openTab(context, { opened })
      expect(await twin.evaluate(() => window.harness.signedIn())).toBe(true)

      await sleep(LIFETIME_MS + 200)
      const refreshesBefore = web.refreshes()
      const [tokenA, tokenB] = await Promise.all([
        first.evaluate(() => window.harness.accessToken()),
        twin.evaluate(() => window.harness.accessToken()),
      ])

      expect(tokenA).not.toMatch(/^error:/)
      expect(tokenB).toBe(tokenA)
      expect(web.refreshes() - refreshesBefore).toBe(1)
    } finally {
      await context.close()
    }
  })
})
