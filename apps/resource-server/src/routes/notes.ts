import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  type Note,
  NoteCreateSchema,
  NoteListSchema,
  NoteParamsSchema,
  NoteSchema,
  NoteUpdateSchema,
} from '@tessera/claims'
import type { Note as NoteRow } from '@tessera/db'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { HttpError, NoteLimitError, NotFoundError } from '../errors.ts'
import { decodeCursor, encodeCursor } from '../note-cursor.ts'
import type { NotePosition, NotesRepository } from '../repositories/notes.ts'

export interface NotesRoutesOptions {
  notes: NotesRepository
  /** Notes one owner may keep; creating one more answers 403 `note_limit_reached`. */
  maxNotesPerOwner: number
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 100

/** Strings only (a repeated parameter is an array, a 400); the handler reads their values. */
const ListQuerySchema = Type.Object({
  limit: Type.Optional(Type.String()),
  before: Type.Optional(Type.String()),
})

function pageSize(limit: string | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE
  const size = /^[1-9][0-9]{0,2}$/.test(limit) ? Number(limit) : 0
  if (size < 1 || size > MAX_PAGE_SIZE) {
    throw new HttpError(400, 'invalid', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`)
  }
  return size
}

function startAfter(before: string | undefined): NotePosition | undefined {
  if (before === undefined) return undefined
  const position = decodeCursor(before)
  if (position === undefined) {
    throw new HttpError(400, 'invalid', 'before must be a next_cursor from an earlier page.')
  }
  return position
}

function toNote(row: NoteRow): Note {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

/** The token's subject owns the notes; hooks guarantee `auth` is set before a handler runs. */
function ownerOf(request: FastifyRequest): string {
  if (request.auth === null) {
    throw new HttpError(401, 'not_authenticated', 'Authentication credentials were not provided.')
  }
  return request.auth.sub
}

/**
 * `/api/notes`: the caller's own notes. Reading needs `notes:read`, writing `notes:write`;
 * another user's note is indistinguishable from a missing one (404). Listing is paginated
 * (`?limit=`, `?before=<next_cursor>`), newest first; each owner keeps at most
 * `maxNotesPerOwner` notes.
 */
export const notesRoutes: FastifyPluginAsyncTypebox<NotesRoutesOptions> = async (app, options) => {
  const { notes, maxNotesPerOwner } = options
  const read = app.requireScopes('notes:read')
  const write = app.requireScopes('notes:write')

  app.get(
    '/',
    {
      onRequest: read,
      schema: { querystring: ListQuerySchema, response: { 200: NoteListSchema } },
    },
    async (request) => {
      const limit = pageSize(request.query.limit)
      const before = startAfter(request.query.before)
      // One more than asked for: whether there is a next page, without a count.
      const rows = await notes.list(ownerOf(request), { limit: limit + 1, before })
      const page = rows.slice(0, limit)
      return {
        notes: page.map(toNote),
        next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.position) : null,
      }
    },
  )

  app.post(
    '/',
    { onRequest: write, schema: { body: NoteCreateSchema, response: { 201: NoteSchema } } },
    async (request, reply) => {
      const row = await notes.create(ownerOf(request), request.body, maxNotesPerOwner)
      if (row === undefined) throw new NoteLimitError(maxNotesPerOwner)
      return reply.code(201).send(toNote(row))
    },
  )

  app.get(
    '/:id',
    { onRequest: read, schema: { params: NoteParamsSchema, response: { 200: NoteSchema } } },
    async (request) => {
      const row = await notes.find(ownerOf(request), request.params.id)
      if (row === undefined) throw new NotFoundError()
      return toNote(row)
    },
  )

  app.patch(
    '/:id',
    {
      onRequest: write,
      schema: { params: NoteParamsSchema, body: NoteUpdateSchema, response: { 200: NoteSchema } },
    },
    async (request) => {
      const row = await notes.update(ownerOf(request), request.params.id, request.body)
      if (row === undefined) throw new NotFoundError()
      return toNote(row)
    },
  )

  app.delete(
    '/:id',
    { onRequest: write, schema: { params: NoteParamsSchema } },
    async (request, reply) => {
      if (!(await notes.remove(ownerOf(request), request.params.id))) throw new NotFoundError()
      return reply.code(204).send()
    },
  )
}
