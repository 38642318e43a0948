import type { TestProject } from 'vitest/node'
import { startServers } from './servers.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    authUrl: string
    resourceUrl: string
  }
}

/** Access-token lifetime of the shared servers: short, so tests see tokens expire. */
export const ACCESS_TOKEN_LIFETIME_MS = 2_000

/**
 * One auth server and one resource server for every test file that needs them: starting a
 * pair per file (each with its own embedded database) on two cores made start-up the bottleneck.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await startServers({ accessTokenLifetime: ACCESS_TOKEN_LIFETIME_MS / 1000 })
  project.provide('authUrl', servers.authUrl)
  project.provide('resourceUrl', servers.resourceUrl)
  return () => servers.close()
}
