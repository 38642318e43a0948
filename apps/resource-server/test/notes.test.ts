import { randomUUID } from 'node:crypto'
import { notes } from '@tessera/db'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestResourceServer, type TestResourceServer } from './helpers.ts'

let t: TestResourceServer
let alice: string
let bob: string
let readOnly: string
let writeOnly: string
let noScope: string

beforeAll(async () => {
  t = await createTestResourceServer()
  alice = await t.issuer.token({ sub: 'alice' })
  bob = await t.issuer.token({ sub: 'bob' })
  readOnly = await t.issuer.token({ sub: 'alice', scope: 'notes:read' })
  writeOnly = await t.issuer.token({ sub: 'alice', scope: 'notes:write' })
  noScope = await t.issuer.token({ sub: 'alice', scope: '' })
})
afterAll(async () => {
  await t.close()
})

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

/** A JSON request; a string payload is sent as it is, as `application/json`. */
function call(
  method: Method,
  url: string,
  token: string | undefined,
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (typeof payload === 'string') headers['content-type'] = 'application/json'
  return t.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as string | object }),
  })
}

async function create(token: string, title = 'a note', body?: string) {
  const response = await call(
    'POST',
    '/api/notes',
    token,
    body === undefined ? { title } : { title, body },
  )
  expect(response.statusCode).toBe(201)
  return response.json() as {
    id: string
    title: string
    body: string
    created_at: string
    updated_at: string
  }
}

describe('POST /api/notes', () => {
  it('creates a note owned by the token subject and answers 201 with it', async () => {
    const response = await call('POST', '/api/notes/', alice, { title: 'hello', body: 'world' })
    expect(response.statusCode).toBe(201)
    const note = response.json()
    expect(note).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      title: 'hello',
      body: 'world',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    })
    expect(new Date(note.created_at).toISOString()).toBe(note.created_at)
  })

  it('defaults the body to an empty string', async () => {
    expect((await create(alice, 'no body')).body).toBe('')
  })

  it('needs notes:write', async () => {
    const response = await call('POST', '/api/notes', readOnly, { title: 'x' })
    expect(response.statusCode).toBe(403)
    expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"')
    expect(response.headers['www-authenticate']).toContain('scope="notes:write"')
    expect(response.json().code).toBe('insufficient_scope')
  })

  it('answers 401, not 500, to a token whose sub PostgreSQL cannot store (a NUL)', async () => {
    const token = await t.issuer.token({ sub: 'alice\u0000' })
    const response = await call('POST', '/api/notes', token, { title: 'x' })
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('token_not_valid')
  })

  it('answers 401 before looking at the body', async () => {
    const response = await call('POST', '/api/notes', undefined, '{not json')
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('not_authenticated')
  })

  describe('bad input', () => {
    it.each<[string, unknown, Record<string, string[]>]>([
      ['no title', { body: 'x' }, { title: ['This field is required.'] }],
      ['an empty title', { title: '' }, { title: ['This field may not be blank.'] }],
      [
        'a long title',
        { title: 'x'.repeat(201) },
        { title: ['Ensure this field has no more than 200 characters.'] },
      ],
      ['a numeric title', { title: 42 }, { title: ['Not a valid string.'] }],
      ['a null title', { title: null }, { title: ['Not a valid string.'] }],
      ['an array title', { title: ['x'] }, { title: ['Not a valid string.'] }],
      [
        'a NUL in the title',
        { title: 'a\u0000b' },
        { title: ['Null characters are not allowed.'] },
      ],
      [
        'a NUL in the body',
        { title: 'a', body: '\u0000' },
        { body: ['Null characters are not allowed.'] },
      ],
      ['an unknown field', { title: 'a', owner_id: 'bob' }, { owner_id: ['Unknown field.'] }],
      ['an array body', [1, 2], { non_field_errors: ['Invalid data. Expected a dictionary.'] }],
    ])('answers 400 with field errors for %s', async (_name, payload, errors) => {
      const response = await call('POST', '/api/notes', alice, JSON.stringify(payload))
      expect(response.statusCode).toBe(400)
      expect(response.json()).toEqual(errors)
    })

    it('reports every field error at once', async () => {
      const response = await call('POST', '/api/notes', alice, { body: 5, extra: true })
      expect(response.statusCode).toBe(400)
      expect(Object.keys(response.json()).sort()).toEqual(['body', 'extra', 'title'])
    })

    it('answers 400 parse_error to malformed JSON', async () => {
      const response = await call('POST', '/api/notes', alice, '{"title": ')
      expect(response.statusCode).toBe(400)
      expect(response.json()).toEqual({ detail: 'JSON parse error.', code: 'parse_error' })
    })

    it('answers 400 to an empty JSON body', async () => {
      const response = await call('POST', '/api/notes', alice, '')
      expect(response.statusCode).toBe(400)
      expect(response.json().code).toBe('parse_error')
    })

    it('answers 400 to a request without a body', async () => {
      const response = await call('POST', '/api/notes', alice)
      expect(response.statusCode).toBe(400)
    })

    it('answers 400 to a prototype-poisoning body', async () => {
      const response = await call(
        'POST',
        '/api/notes',
        alice,
        '{"title":"x","__proto__":{"admin":true}}',
      )
      expect(response.statusCode).toBe(400)
    })

    describe('text encodings', () => {
      const subject = 'encodings'
      let token: string

      beforeAll(async () => {
        token = await t.issuer.token({ sub: subject })
      })

      function post(payload: Buffer | string, contentType = 'application/json') {
        return t.app.inject({
          method: 'POST',
          url: '/api/notes',
          headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
          payload,
        })
      }

      async function stored(): Promise<string[]> {
        const response = await call('GET', '/api/notes', token)
        return (response.json().notes as { title: string }[]).map((note) => note.title)
      }

      const json = (title: Buffer) =>
        Buffer.concat([Buffer.from('{"title":"'), title, Buffer.from('"}')])

      it.each([
        ['a byte that is never UTF-8', Buffer.from([0xff])],
        ['a truncated sequence', Buffer.from([0xe2, 0x82])],
        ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
        ['an encoded surrogate (CESU-8)', Buffer.from([0xed, 0xa0, 0x80])],
        ['Latin-1 for "é"', Buffer.from([0xe9])],
      ])('answers 400 to %s and stores nothing', async (_name, bytes) => {
        const response = await post(json(bytes))
        expect(response.statusCode).toBe(400)
        expect(response.json()).toEqual({
          detail: 'JSON parse error: the body is not valid UTF-8.',
          code: 'parse_error',
        })
        expect(await stored()).toEqual([])
      })

      it.each([['{"title":"\\ud800"}'], ['{"title":"a\\uDC00b"}'], ['{"title":"a","\\ud800":1}']])(
        'answers 400 to the unpaired surrogate in %s and stores nothing',
        async (payload) => {
          const response = await post(payload)
          expect(response.statusCode).toBe(400)
          expect(response.json()).toEqual({
            detail: 'JSON parse error: a string holds an unpaired surrogate.',
            code: 'parse_error',
          })
          expect(await stored()).toEqual([])
        },
      )

      it.each([['utf-16'], ['UTF-16LE'], ['iso-8859-1'], ['"utf-32"']])(
        'answers 415 to charset=%s',
        async (charset) => {
          const response = await post(
            Buffer.from('{"title":"x"}', 'utf16le'),
            `application/json; charset=${charset}`,
          )
          expect(response.statusCode).toBe(415)
          expect(response.json().code).toBe('unsupported_media_type')
          expect(await stored()).toEqual([])
        },
      )

      it('stores what was sent: UTF-8 in any spelling of the charset, escapes, astral characters', async () => {
        const titles: [string, string, string][] = [
          ['{"title":"zoë"}', 'application/json; charset=utf-8', 'zoë'],
          ['{"title":"😀 \\ud83d\\ude00"}', 'application/json;charset="UTF-8"', '😀 😀'],
          ['{"title":"\\\\ud800"}', 'application/json; charset=utf8', '\\ud800'],
        ]
        for (const [payload, contentType, title] of titles) {
          const response = await post(Buffer.from(payload), contentType)
          expect(response.statusCode, payload).toBe(201)
          expect(response.json().title).toBe(title)
        }
        expect((await stored()).sort()).toEqual(titles.map(([, , title]) => title).sort())
      })
    })

    it('answers 415 to a body that is not JSON', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/notes',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'text/plain' },
        payload: 'title=x',
      })
      expect(response.statusCode).toBe(415)
      expect(response.json().code).toBe('unsupported_media_type')
    })

    it('answers 413 to a body over 1 MiB', async () => {
      const response = await call(
        'POST',
        '/api/notes',
        alice,
        JSON.stringify({ title: 'x', body: 'y'.repeat(1_100_000) }),
      )
      expect(response.statusCode).toBe(413)
      expect(response.json()).toEqual({
        detail: 'Request body is too large.',
        code: 'request_too_large',
      })
    })

    it('answers 400 to a body within 1 MiB but over the note limit', async () => {
      const response = await call('POST', '/api/notes', alice, {
        title: 'x',
        body: 'y'.repeat(100_001),
      })
      expect(response.statusCode).toBe(400)
      expect(response.json()).toEqual({
        body: ['Ensure this field has no more than 100000 characters.'],
      })
    })
  })
})

describe('GET /api/notes', () => {
  it('lists only the caller’s notes, newest first', async () => {
    const first = await create(alice, 'first')
    const second = await create(alice, 'second')
    const foreign = await create(bob, 'bob’s')
    const response = await call('GET', '/api/notes', alice)
    expect(response.statusCode).toBe(200)
    const ids = (response.json().notes as { id: string }[]).map((note) => note.id)
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id))
    expect(ids).toContain(first.id)
    expect(ids).not.toContain(foreign.id)
    const bobs = (await call('GET', '/api/notes/', bob)).json().notes as { id: string }[]
    expect(bobs.map((note) => note.id)).toEqual([foreign.id])
  })

  it('answers an empty list to a subject without notes', async () => {
    const response = await call('GET', '/api/notes', await t.issuer.token({ sub: 'nobody' }))
    expect(response.json()).toEqual({ notes: [], next_cursor: null })
  })

  describe('pagination', () => {
    /** Notes inserted straight into the table, `created_at` as given (microseconds kept). */
    async function insert(owner: string, createdAt: string[]): Promise<string[]> {
      const rows = await t.database.db
        .insert(notes)
        .values(
          createdAt.map((at, i) => ({
            ownerId: owner,
            title: `note ${i}`,
            createdAt: sql`${at}::timestamptz`,
          })),
        )
        .returning({ id: notes.id })
      return rows.map((row) => row.id)
    }

    /** Every page from the first, following next_cursor: the ids in order, and the page sizes. */
    async function walk(token: string, query = ''): Promise<{ ids: string[]; sizes: number[] }> {
      const ids: string[] = []
      const sizes: number[] = []
      let cursor: string | null = null
      do {
        const before: string = cursor === null ? '' : `&before=${cursor}`
        const response = await call('GET', `/api/notes?x=1${query}${before}`, token)
        expect(response.statusCode).toBe(200)
        const page = response.json() as { notes: { id: string }[]; next_cursor: string | null }
        ids.push(...page.notes.map((note) => note.id))
        sizes.push(page.notes.length)
        cursor = page.next_cursor
        expect(sizes.length).toBeLessThan(200)
      } while (cursor !== null)
      return { ids, sizes }
    }

    it('answers 50 notes by default, newest first, with a cursor to the rest', async () => {
      const owner = 'pages-default'
      const token = await t.issuer.token({ sub: owner })
      const times = Array.from({ length: 120 }, (_, i) =>
        new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
      )
      const ids = await insert(owner, times)
      const first = (await call('GET', '/api/notes', token)).json()
      expect(first.notes).toHaveLength(50)
      expect(first.notes[0].id).toBe(ids.at(-1))
      expect(first.next_cursor).toEqual(expect.any(String))
      const all = await walk(token)
      expect(all.sizes).toEqual([50, 50, 20])
      expect(all.ids).toEqual([...ids].reverse())
      expect((await walk(token, '&limit=100')).sizes).toEqual([100, 20])
    })

    it('walks every note exactly once with limit=1, through equal and microsecond-apart times', async () => {
      const owner = 'pages-ties'
      const token = await t.issuer.token({ sub: owner })
      const ids = await insert(owner, [
        '2025-03-01T00:00:00.123456Z',
        '2025-03-01T00:00:00.123456Z',
        '2025-03-01T00:00:00.123456Z',
        '2025-03-01T00:00:00.123457Z',
        '2025-03-01T00:00:00.123455Z',
        '2025-03-01T00:00:00.1234Z',
      ])
      const { ids: walked, sizes } = await walk(token, '&limit=1')
      expect(sizes).toEqual([1, 1, 1, 1, 1, 1])
      expect(new Set(walked)).toEqual(new Set(ids))
      expect(walked[0]).toBe(ids[3])
      expect(walked.slice(-2)).toEqual([ids[4], ids[5]])
    })

    it('answers next_cursor null when the page holds the last note exactly', async () => {
      const owner = 'pages-exact'
      const token = await t.issuer.token({ sub: owner })
      await insert(owner, ['2025-04-01T00:00:00Z', '2025-04-01T00:00:01Z'])
      const page = (await call('GET', '/api/notes?limit=2', token)).json()
      expect(page.notes).toHaveLength(2)
      expect(page.next_cursor).toBeNull()
    })

    it('goes on after the cursor even when that note was deleted meanwhile', async () => {
      const owner = 'pages-deleted'
      const token = await t.issuer.token({ sub: owner })
      const ids = await insert(owner, [
        '2025-05-01T00:00:00Z',
        '2025-05-01T00:00:01Z',
        '2025-05-01T00:00:02Z',
      ])
      const first = (await call('GET', '/api/notes?limit=1', token)).json()
      expect(first.notes[0].id).toBe(ids[2])
      expect((await call('DELETE', `/api/notes/${ids[2]}`, token)).statusCode).toBe(204)
      const second = (
        await call('GET', `/api/notes?limit=5&before=${first.next_cursor}`, token)
      ).json()
      expect(second.notes.map((note: { id: string }) => note.id)).toEqual([ids[1], ids[0]])
    })

    it('never shows another owner’s notes, even with their cursor', async () => {
      const token = await t.issuer.token({ sub: 'pages-carol' })
      const dave = await t.issuer.token({ sub: 'pages-dave' })
      const carols = await insert('pages-carol', ['2025-06-01T00:00:00Z'])
      await insert('pages-dave', ['2025-06-01T00:00:01Z', '2025-06-01T00:00:02Z'])
      const davesCursor = (await call('GET', '/api/notes?limit=1', dave)).json().next_cursor
      const page = (await call('GET', `/api/notes?before=${davesCursor}`, token)).json()
      expect(page.notes.map((note: { id: string }) => note.id)).toEqual(carols)
    })

    it.each([
      ['0'],
      ['101'],
      ['-1'],
      ['1.5'],
      ['1e2'],
      ['050'],
      ['abc'],
      [''],
      ['%201'],
      ['99999999999999999999'],
    ])('answers 400 to limit=%s', async (limit) => {
      const response = await call('GET', `/api/notes?limit=${limit}`, alice)
      expect(response.statusCode).toBe(400)
      expect(response.json()).toEqual({
        detail: 'limit must be an integer from 1 to 100.',
        code: 'invalid',
      })
    })

    const encode = (text: string) => Buffer.from(text).toString('base64url')
    const uuid = '0b9c3c1e-2f39-4c1d-9a8e-1d2f3a4b5c6d'
    it.each([
      ['not base64url', '!!!!'],
      ['padded', `${encode(`2025-01-01T00:00:00.000000Z|${uuid}`)}=`],
      ['empty', ''],
      ['garbage inside', encode('garbage')],
      ['no id', encode('2025-01-01T00:00:00.000000Z|')],
      ['milliseconds only', encode(`2025-01-01T00:00:00.000Z|${uuid}`)],
      ['an impossible date', encode(`2025-02-30T00:00:00.000000Z|${uuid}`)],
      ['hour 24', encode(`2025-01-01T24:00:00.000000Z|${uuid}`)],
      ['year 0', encode(`0000-01-01T00:00:00.000000Z|${uuid}`)],
      ['an id that is not a uuid', encode('2025-01-01T00:00:00.000000Z|1 OR 1=1')],
      ['too long', 'A'.repeat(300)],
    ])('answers 400 to a cursor that is %s', async (_name, cursor) => {
      const response = await call('GET', `/api/notes?before=${cursor}`, alice)
      expect(response.statusCode).toBe(400)
      expect(response.json()).toEqual({
        detail: 'before must be a next_cursor from an earlier page.',
        code: 'invalid',
      })
    })

    it.each([['limit=1&limit=2'], ['before=a&before=b']])(
      'answers 400 to a repeated parameter: %s',
      async (query) => {
        const response = await call('GET', `/api/notes?${query}`, alice)
        expect(response.statusCode).toBe(400)
        expect(response.json().code).toBe('invalid')
      },
    )
  })

  it('needs notes:read', async () => {
    const response = await call('GET', '/api/notes', writeOnly)
    expect(response.statusCode).toBe(403)
    expect(response.headers['www-authenticate']).toContain('scope="notes:read"')
    expect((await call('GET', '/api/notes', noScope)).statusCode).toBe(403)
    expect((await call('GET', '/api/notes', readOnly)).statusCode).toBe(200)
  })

  it('answers 401 without a token', async () => {
    expect((await call('GET', '/api/notes', undefined)).statusCode).toBe(401)
  })
})

describe('a quota of notes per owner (NOTES_MAX_PER_USER)', () => {
  let small: TestResourceServer

  beforeAll(async () => {
    small = await createTestResourceServer({ NOTES_MAX_PER_USER: '3' })
  })
  afterAll(async () => {
    await small?.close()
  })

  function post(token: string, title: string) {
    return small.app.inject({
      method: 'POST',
      url: '/api/notes',
      headers: { authorization: `Bearer ${token}` },
      payload: { title },
    })
  }

  it('answers 403 note_limit_reached past the quota, stores nothing, and makes room on delete', async () => {
    const token = await small.issuer.token({ sub: 'quota-full' })
    const created: string[] = []
    for (let i = 0; i < 3; i++) {
      const response = await post(token, `n${i}`)
      expect(response.statusCode).toBe(201)
      created.push(response.json().id)
    }
    const refused = await post(token, 'one too many')
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toEqual({
      detail: 'You have reached the limit of 3 notes; delete one to create another.',
      code: 'note_limit_reached',
    })
    const list = await small.app.inject({
      url: '/api/notes',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(list.json().notes).toHaveLength(3)
    // Another owner has a quota of their own.
    expect((await post(await small.issuer.token({ sub: 'quota-other' }), 'x')).statusCode).toBe(201)
    await small.app.inject({
      method: 'DELETE',
      url: `/api/notes/${created[0]}`,
      headers: { authorization: `Bearer ${token}` },
    })
    expect((await post(token, 'room again')).statusCode).toBe(201)
  })

  it('holds exactly under concurrent creations', async () => {
    const token = await small.issuer.token({ sub: 'quota-race' })
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => post(token, `race ${i}`)),
    )
    const statuses = responses.map((response) => response.statusCode).sort()
    expect(statuses).toEqual([...Array(3).fill(201), ...Array(9).fill(403)])
    const list = await small.app.inject({
      url: '/api/notes',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(list.json().notes).toHaveLength(3)
  })

  it('allows 1,000 notes by default', async () => {
    expect(t.app.hasRoute({ method: 'POST', url: '/api/notes' })).toBe(true)
    const owner = 'quota-default'
    const token = await t.issuer.token({ sub: owner })
    await t.database.db
      .insert(notes)
      .values(Array.from({ length: 999 }, (_, i) => ({ ownerId: owner, title: `n${i}` })))
    expect((await call('POST', '/api/notes', token, { title: 'the 1,000th' })).statusCode).toBe(201)
    const refused = await call('POST', '/api/notes', token, { title: 'the 1,001st' })
    expect(refused.statusCode).toBe(403)
    expect(refused.json().code).toBe('note_limit_reached')
  })
})

describe('GET /api/notes/:id', () => {
  it('answers the caller’s note', async () => {
    const note = await create(alice, 'mine', 'text')
    const response = await call('GET', `/api/notes/${note.id}/`, alice)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual(note)
  })

  it('accepts an upper-case id', async () => {
    const note = await create(alice)
    expect((await call('GET', `/api/notes/${note.id.toUpperCase()}`, alice)).statusCode).toBe(200)
  })

  it('answers 404 for another user’s note, as for a missing one', async () => {
    const note = await create(alice, 'secret')
    const foreign = await call('GET', `/api/notes/${note.id}`, bob)
    const missing = await call('GET', `/api/notes/${randomUUID()}`, bob)
    expect(foreign.statusCode).toBe(404)
    expect(foreign.json()).toEqual({ detail: 'Not found.', code: 'not_found' })
    expect(missing.json()).toEqual(foreign.json())
  })

  it.each([
    ['not-a-uuid'],
    ['urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['a0eebc999c0b4ef8bb6d6bb9bd380a11'],
    ['%27%20OR%201%3D1--'],
    ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g'],
  ])('answers 400 to the bad id %s', async (id) => {
    const response = await call('GET', `/api/notes/${id}`, alice)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ detail: 'Not a valid note id.', code: 'invalid' })
  })

  it('needs notes:read', async () => {
    const note = await create(alice)
    expect((await call('GET', `/api/notes/${note.id}`, writeOnly)).statusCode).toBe(403)
  })

  describe('ids the router cannot take', () => {
    it.each([['%'], ['%zz'], ['%E0%A4%A']])(
      'answers 400 {detail, code} to the bad percent-encoding %s',
      async (id) => {
        const response = await call('GET', `/api/notes/${id}`, alice)
        expect(response.statusCode).toBe(400)
        expect(response.headers['content-type']).toMatch(/^application\/json/)
        expect(response.json()).toEqual({ detail: 'Bad request.', code: 'invalid' })
      },
    )

    it('answers 414 {detail, code} to a 5,000-character id, without echoing it', async () => {
      const response = await call('GET', `/api/notes/${'a'.repeat(5_000)}`, alice)
      expect(response.statusCode).toBe(414)
      expect(response.json()).toEqual({ detail: 'Bad request.', code: 'invalid' })
      expect(response.body).not.toContain('aaaa')
    })

    it('answers the same to PATCH and DELETE and without a token', async () => {
      for (const method of ['PATCH', 'DELETE'] as const) {
        const response = await call(method, '/api/notes/%', alice, { title: 'x' })
        expect(response.json()).toEqual({ detail: 'Bad request.', code: 'invalid' })
      }
      expect((await call('GET', '/api/notes/%', undefined)).json().code).toBe('invalid')
    })
  })
})

describe('PATCH /api/notes/:id', () => {
  it('changes the given fields and keeps the others', async () => {
    const note = await create(alice, 'before', 'body stays')
    const response = await call('PATCH', `/api/notes/${note.id}`, alice, { title: 'after' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ id: note.id, title: 'after', body: 'body stays' })
    expect(response.json().created_at).toBe(note.created_at)
    expect(Date.parse(response.json().updated_at)).toBeGreaterThanOrEqual(
      Date.parse(note.updated_at),
    )
    expect((await call('GET', `/api/notes/${note.id}`, alice)).json().title).toBe('after')
  })

  it('answers 404 to another user and leaves the note alone', async () => {
    const note = await create(alice, 'untouched')
    const response = await call('PATCH', `/api/notes/${note.id}`, bob, { title: 'hijacked' })
    expect(response.statusCode).toBe(404)
    expect((await call('GET', `/api/notes/${note.id}`, alice)).json().title).toBe('untouched')
  })

  it.each<[string, unknown, Record<string, string[]>]>([
    ['an empty body', {}, { non_field_errors: ['Provide at least one field to change.'] }],
    ['an empty title', { title: '' }, { title: ['This field may not be blank.'] }],
    ['an unknown field', { owner_id: 'bob' }, { owner_id: ['Unknown field.'] }],
    ['a NUL', { body: 'x\u0000' }, { body: ['Null characters are not allowed.'] }],
  ])('answers 400 to %s', async (_name, payload, errors) => {
    const note = await create(alice)
    const response = await call('PATCH', `/api/notes/${note.id}`, alice, JSON.stringify(payload))
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual(errors)
  })

  it('answers 400 to a bad id before reading the body', async () => {
    const response = await call('PATCH', '/api/notes/nope', alice, { title: 'x' })
    expect(response.statusCode).toBe(400)
  })

  it('needs notes:write', async () => {
    const note = await create(alice)
    expect(
      (await call('PATCH', `/api/notes/${note.id}`, readOnly, { title: 'x' })).statusCode,
    ).toBe(403)
  })
})

describe('DELETE /api/notes/:id', () => {
  it('deletes the caller’s note and answers 204, then 404', async () => {
    const note = await create(alice)
    const response = await call('DELETE', `/api/notes/${note.id}`, alice)
    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    expect((await call('GET', `/api/notes/${note.id}`, alice)).statusCode).toBe(404)
    expect((await call('DELETE', `/api/notes/${note.id}`, alice)).statusCode).toBe(404)
  })

  it('answers 404 to another user and keeps the note', async () => {
    const note = await create(alice)
    expect((await call('DELETE', `/api/notes/${note.id}`, bob)).statusCode).toBe(404)
    expect((await call('GET', `/api/notes/${note.id}`, alice)).statusCode).toBe(200)
  })

  it('answers 400 to a bad id', async () => {
    expect((await call('DELETE', '/api/notes/123', alice)).statusCode).toBe(400)
  })

  it('needs notes:write', async () => {
    const note = await create(alice)
    expect((await call('DELETE', `/api/notes/${note.id}`, readOnly)).statusCode).toBe(403)
    expect((await call('GET', `/api/notes/${note.id}`, alice)).statusCode).toBe(200)
  })
})

describe('every notes route', () => {
  const routes: [Method, string][] = [
    ['GET', '/api/notes'],
    ['POST', '/api/notes'],
    ['GET', `/api/notes/${randomUUID()}`],
    ['PATCH', `/api/notes/${randomUUID()}`],
    ['DELETE', `/api/notes/${randomUUID()}`],
    ['GET', '/api/notes/not-a-uuid'],
  ]

  it.each(routes)(
    '%s %s answers 401 with WWW-Authenticate without a token',
    async (method, url) => {
      const response = await call(
        method,
        url,
        undefined,
        method === 'POST' || method === 'PATCH' ? { title: 'x' } : undefined,
      )
      expect(response.statusCode).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer')
    },
  )

  it.each(routes)('%s %s answers 401 invalid_token to a forged token', async (method, url) => {
    const token = await t.issuer.token({ sub: 'alice' })
    const forged = `${token.slice(0, -6)}AAAAAA`
    const response = await call(method, url, forged)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/)
  })

  it('answers 400 to garbage and stores nothing', async () => {
    const owner = await t.issuer.token({ sub: 'garbage' })
    const note = await create(owner, 'kept', 'as it was')
    const garbage = [
      '',
      'null',
      '[]',
      '"x"',
      '1',
      'true',
      '{"title":{}}',
      '{"title":"x","body":[]}',
      '\u0000',
      '{"title":"\\ud800"}',
      '{"title":"a","body":"\\udfff\\ud800"}',
    ]
    for (const payload of garbage) {
      for (const [method, url] of [
        ['POST', '/api/notes'],
        ['PATCH', `/api/notes/${note.id}`],
      ] as const) {
        const response = await call(method, url, owner, payload)
        expect(response.statusCode, `${method} ${url} ${JSON.stringify(payload)}`).toBe(400)
      }
    }
    const list = (await call('GET', '/api/notes', owner)).json().notes as { id: string }[]
    expect(list.map((each) => each.id)).toEqual([note.id])
    expect((await call('GET', `/api/notes/${note.id}`, owner)).json()).toEqual(note)
  })
})
