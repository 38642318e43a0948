// The real auth and resource servers on ephemeral ports, for the integration, browser and Deno
// tests. Short-lived access tokens make expiry happen within a test.

import type { AddressInfo } from 'node:net'
import { buildApp as buildAuthApp, loadConfig as loadAuthConfig } from '@tessera/auth-server'
import {
  buildApp as buildResourceApp,
  loadConfig as loadResourceConfig,
} from '@tessera/resource-server'
import { inject } from 'vitest'

export const ISSUER = 'http://tessera.test'
export const PASSWORD = 'correct horse battery staple'

export interface RunningServers {
  authUrl: string
  resourceUrl: string
  close(): Promise<void>
}

function urlOf(address: AddressInfo | string | null): string {
  if (!address || typeof address === 'string') throw new Error('server has no TCP address')
  return `http://127.0.0.1:${address.port}`
}

export async function startServers({ accessTokenLifetime = 2 } = {}): Promise<RunningServers> {
  const database = { DATABASE_URL: process.env.DATABASE_URL, DATA_DIR: 'memory://' }
  const auth = await buildAuthApp(
    loadAuthConfig({
      ...database,
      ISSUER,
      ACCESS_TOKEN_LIFETIME_SECONDS: String(accessTokenLifetime),
      RATE_LIMIT_LOGIN_PER_MINUTE: '0',
      LOG_LEVEL: 'silent',
    }),
    { logger: false },
  )
  await auth.listen({ port: 0, host: '127.0.0.1' })
  const authUrl = urlOf(auth.server.address())

  const resource = await startResourceServer(authUrl)

  return {
    authUrl,
    resourceUrl: resource.url,
    async close() {
      await resource.close()
      await auth.close()
    },
  }
}

/**
 * A resource server verifying against `authUrl`. `clock` lets a test run it ahead of true time,
 * past the verifier's 10 s leeway, so it refuses tokens the client still thinks are fresh.
 */
export async function startResourceServer(
  authUrl: string,
  { clock }: { clock?: () => number } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const resource = await buildResourceApp(
    loadResourceConfig({
      DATABASE_URL: process.env.DATABASE_URL,
      DATA_DIR: 'memory://',
      AUTH_URL: authUrl,
      ISSUER,
      LOG_LEVEL: 'silent',
    }),
    clock ? { clock } : {},
  )
  await resource.listen({ port: 0, host: '127.0.0.1' })
  return { url: urlOf(resource.server.address()), close: () => resource.close() }
}

/** The servers test/global-setup.ts started for this run. */
export function sharedServers(): { authUrl: string; resourceUrl: string } {
  return { authUrl: inject('authUrl'), resourceUrl: inject('resourceUrl') }
}

let counter = 0
/** A username no other test uses, also against a shared PostgreSQL. */
export function uniqueUsername(prefix = 'sdk'): string {
  counter += 1
  return `${prefix}${counter}_${Math.random().toString(36).slice(2, 10)}`
}

/** A fetch that counts refresh-token grants on their way to the auth server. */
export function countingFetch(): { fetch: typeof globalThis.fetch; refreshes: () => number } {
  let refreshes = 0
  return {
    refreshes: () => refreshes,
    fetch: async (input, init) => {
      const request = new Request(input, init)
      if (request.url.endsWith('/oauth/token')) {
        const form = new URLSearchParams(await request.clone().text())
        if (form.get('grant_type') === 'refresh_token') refreshes += 1
      }
      return globalThis.fetch(request)
    },
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
