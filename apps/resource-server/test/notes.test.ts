import { randomUUID } from 'node:crypto'
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
    expect(response.json()).toEqual({ notes: [] })
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
