import { describe, expect, it } from 'vitest'
import { AUTH_URL, createFakeServer } from './fake-server.ts'

// The fake stands in for the real auth server in the unit tests: unless it ends a session on
// refresh-token reuse as the real one does, no test can tell a client that spends a token twice.
function start(grace?: number) {
  let time = 1_700_000_000_000
  const server = createFakeServer({
    serverNow: () => time,
    ...(grace === undefined ? {} : { grace }),
  })
  const token = async (form: Record<string, string>) => {
    const response = await server.fetch(`${AUTH_URL}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams(form),
    })
    return { status: response.status, body: (await response.json()) as Record<string, string> }
  }
  return {
    server,
    advance: (ms: number) => {
      time += ms
    },
    login: async () =>
      (await token({ grant_type: 'password', username: 'ada', password: 'correct horse' })).body,
    refresh: (refresh_token: string) => token({ grant_type: 'refresh_token', refresh_token }),
  }
}

describe('the fake auth server', () => {
  it('answers the previous refresh token within the grace window with the same successor', async () => {
    const { server, login, refresh, advance } = start()
    const { refresh_token: first } = await login()
    const rotated = await refresh(first ?? '')
    advance(10_000)

    const replayed = await refresh(first ?? '')

    expect(replayed.status).toBe(200)
    expect(replayed.body.refresh_token).toBe(rotated.body.refresh_token)
    expect(server.calls.replays).toEqual([first])
    expect(server.ended).toBeNull()
  })

  it('ends the session on any other reuse: the token and its successor are refused', async () => {
    const { server, login, refresh, advance } = start()
    const { refresh_token: first } = await login()
    const rotated = await refresh(first ?? '')
    advance(10_001)

    const reused = await refresh(first ?? '')
    const successor = await refresh(rotated.body.refresh_token ?? '')

    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })
    expect(successor.status).toBe(400)
    expect(server.ended).toBe('reuse')
    expect(server.calls.reuses).toEqual([first])
  })

  it('treats a replay as reuse when the grace window is off, and a token two rotations back always', async () => {
    const off = start(0)
    const { refresh_token: first } = await off.login()
    await off.refresh(first ?? '')
    expect((await off.refresh(first ?? '')).status).toBe(400)
    expect(off.server.ended).toBe('reuse')

    const on = start()
    const login = await on.login()
    const second = await on.refresh(login.refresh_token ?? '')
    await on.refresh(second.body.refresh_token ?? '')
    expect((await on.refresh(login.refresh_token ?? '')).status).toBe(400)
    expect(on.server.ended).toBe('reuse')
  })
})
