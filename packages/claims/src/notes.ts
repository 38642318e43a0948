import { type Static, Type } from 'typebox'

import { ClientString, UUID_PATTERN } from './strings.ts'

const Title = ClientString({ minLength: 1, maxLength: 200 })
const Body = ClientString({ maxLength: 100_000 })

export const NoteSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  body: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})
export type Note = Static<typeof NoteSchema>

export const NoteListSchema = Type.Object({
  notes: Type.Array(NoteSchema),
  /** Opaque; pass it as `?before=` for the next page. `null` on the last page. */
  next_cursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
})
export type NoteList = Static<typeof NoteListSchema>

export const NoteCreateSchema = Type.Object(
  {
    title: Title,
    body: Type.Optional(Body),
  },
  { additionalProperties: false },
)
export type NoteCreate = Static<typeof NoteCreateSchema>

export const NoteUpdateSchema = Type.Object(
  {
    title: Type.Optional(Title),
    body: Type.Optional(Body),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type NoteUpdate = Static<typeof NoteUpdateSchema>

export const NoteParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', pattern: UUID_PATTERN }),
})
export type NoteParams = Static<typeof NoteParamsSchema>

export const RestrictedResponseSchema = Type.Object({ message: Type.String() })
export type RestrictedResponse = Static<typeof RestrictedResponseSchema>
