import { afterEach } from 'vitest'
import {
  type AuthChangeEvent,
  type ClientOptions,
  createClient,
  type TesseraClient,
} from '../src/index.ts'
import { API_URL, AUTH_URL, createFakeServer, type FakeServerOptions } from './fake-server.ts'

export const CREDENTIALS = { username: 'ada', password: 'correct horse' }

const clients: TesseraClient[] = []
afterEach(() => {
  for (const client of clients.splice(0)) client.dispose()
})

export function track(client: TesseraClient): { client: TesseraClient; events: AuthChangeEvent[] } {
  clients.push(client)
  const events: AuthChangeEvent[] = []
  client.onAuthChange((event) => events.push(event))
  return { client, events }
}

/**
 * A client on a fake server with a clock the test moves by hand (`clock.advance`), and no
 * refresh timer unless asked: expiry is then observed only through use. The server reads the
 * same clock unless given its own, so moving it also moves the grace window.
 */
export function setup(options: Partial<ClientOptions> = {}, serverOptions: FakeServerOptions = {}) {
  let time = 1_700_000_000_000
  const clock = {
    now: () => time,
    advance(ms: number) {
      time += ms
    },
  }
  const server = createFakeServer({ serverNow: clock.now, ...serverOptions })
  const { client, events } = track(
    createClient({
      authUrl: AUTH_URL,
      resourceOrigins: [API_URL],
      fetch: server.fetch,
      now: clock.now,
      autoRefresh: false,
      ...options,
    }),
  )
  const api = client.http.extend({ prefixUrl: API_URL })
  return { server, client, clock, events, api }
}

export async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}
