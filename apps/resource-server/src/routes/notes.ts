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
import { HttpError, NotFoundError } from '../errors.ts'
import type { NotesRepository } from '../repositories/notes.ts'

export interface NotesRoutesOptions {
  notes: NotesRepository
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
 * another user's note is indistinguishable from a missing one (404).
 */
export const notesRoutes: FastifyPluginAsyncTypebox<NotesRoutesOptions> = async (app, options) => {
  const { notes } = options
  const read = app.requireScopes('notes:read')
  const write = app.requireScopes('notes:write')

  app.get(
    '/',
    { onRequest: read, schema: { response: { 200: NoteListSchema } } },
    async (request) => ({ notes: (await notes.list(ownerOf(request))).map(toNote) }),
  )

  app.post(
    '/',
    { onRequest: write, schema: { body: NoteCreateSchema, response: { 201: NoteSchema } } },
    async (request, reply) => {
      const row = await notes.create(ownerOf(request), request.body)
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
