import { sessions } from '@tessera/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, decodeJwt, login, refresh, register, type TestApp } from './helpers.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(async () => {
  await t.close()
})

const bearer = (access: string) => ({ authorization: `Bearer ${access}` })

describe('GET /api/sessions', () => {
  it('lists the live sessions of the account only, marking the current one', async () => {
    const { username } = await register(t.app)
    const other = await register(t.app)
    await login(t.app, other.username)
    await login(t.app, username)
    const second = await t.app.inject({
      method: 'POST',
      url: '/api/token/',
      headers: { 'user-agent': 'tessera-test/1.0' },
      payload: { username, password: 'correct horse battery staple' },
    })
    const response = await t.app.inject({
      url: '/api/sessions',
      headers: bearer(second.json().access),
    })
    expect(response.statusCode).toBe(200)
    const { sessions } = response.json()
    expect(sessions).toHaveLength(2)
    const current = sessions.find((s: { current: boolean }) => s.current)
    expect(current.user_agent).toBe('tessera-test/1.0')
    expect(sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1)
  })

  it('answers 401 without a token', async () => {
    expect((await t.app.inject({ url: '/api/sessions' })).statusCode).toBe(401)
  })
})

describe('DELETE /api/sessions', () => {
  it('ends every session of the account, the asking one included', async () => {
    const { username } = await register(t.app)
    const a = await login(t.app, username)
    const b = await login(t.app, username)
    const response = await t.app.inject({
      method: 'DELETE',
      url: '/api/sessions',
      headers: bearer(a.access),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ ended: 2 })
    expect((await refresh(t.app, a.refresh)).statusCode).toBe(401)
    expect((await refresh(t.app, b.refresh)).statusCode).toBe(401)
    expect((await t.app.inject({ url: '/api/me', headers: bearer(a.access) })).statusCode).toBe(401)
  })
})

describe('DELETE /api/sessions/others', () => {
  it('ends every other session and keeps the asking one', async () => {
    const { username } = await register(t.app)
    const keep = await login(t.app, username)
    const drop = await login(t.app, username)
    const response = await t.app.inject({
      method: 'DELETE',
      url: '/api/sessions/others',
      headers: bearer(keep.access),
    })
    expect(response.json()).toEqual({ ended: 1 })
    expect((await refresh(t.app, keep.refresh)).statusCode).toBe(200)
    expect((await refresh(t.app, drop.refresh)).statusCode).toBe(401)
  })
})

describe('DELETE /api/sessions/:id', () => {
  it('ends one session of the account', async () => {
    const { username } = await register(t.app)
    const keep = await login(t.app, username)
    const drop = await login(t.app, username)
    const list = await t.app.inject({ url: '/api/sessions', headers: bearer(keep.access) })
    const target = list.json().sessions.find((s: { current: boolean }) => !s.current)
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/api/sessions/${target.id}`,
      headers: bearer(keep.access),
    })
    expect(response.json()).toEqual({ ended: 1 })
    expect((await refresh(t.app, drop.refresh)).statusCode).toBe(401)
    expect((await refresh(t.app, keep.refresh)).statusCode).toBe(200)
  })

  it("answers 404 for another user's session and leaves it alive", async () => {
    const mallory = await register(t.app)
    const victim = await register(t.app)
    const m = await login(t.app, mallory.username)
    const v = await login(t.app, victim.username)
    const list = await t.app.inject({ url: '/api/sessions', headers: bearer(v.access) })
    const victimSession = list.json().sessions[0].id
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/api/sessions/${victimSession}`,
      headers: bearer(m.access),
    })
    expect(response.statusCode).toBe(404)
    expect((await refresh(t.app, v.refresh)).statusCode).toBe(200)
  })

  it.each([
    "1' or '1'='1",
    'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}',
  ])('answers 400 for the id %s, which is not a canonical uuid', async (id) => {
    const { username } = await register(t.app)
    const { access } = await login(t.app, username)
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/api/sessions/${encodeURIComponent(id)}`,
      headers: bearer(access),
    })
    expect(response.statusCode).toBe(400)
  })

  it('ends the current session with `current`', async () => {
    const { username } = await register(t.app)
    const pair = await login(t.app, username)
    const response = await t.app.inject({
      method: 'DELETE',
      url: '/api/sessions/current',
      headers: bearer(pair.access),
    })
    expect(response.json()).toEqual({ ended: 1 })
    expect((await refresh(t.app, pair.refresh)).statusCode).toBe(401)
  })
})

describe('pruning', () => {
  it('deletes sessions that ended long ago and keeps live ones', async () => {
    const { username, id } = await register(t.app)
    const ended = await login(t.app, username)
    await t.app.inject({
      method: 'POST',
      url: '/api/token/blacklist/',
      payload: { refresh: ended.refresh },
    })
    const live = await login(t.app, username)
    t.clock.advance(9 * 86_400_000)
    const kept = await login(t.app, username)
    expect(await t.app.sessions.prune(7 * 86_400)).toBeGreaterThanOrEqual(2)
    // Only the session that is still live is left of this user's three.
    const rows = await t.database.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(eq(sessions.userId, Number(id)))
    expect(rows.map((r) => r.id)).toEqual([decodeJwt(kept.refresh).payload.sid])
    expect((await refresh(t.app, kept.refresh)).statusCode).toBe(200)
    expect((await refresh(t.app, live.refresh)).statusCode).toBe(401)
  })
})
