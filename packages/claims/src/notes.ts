import { type Static, Type } from 'typebox'

export const NoteSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  body: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})
export type Note = Static<typeof NoteSchema>

export const NoteListSchema = Type.Object({ notes: Type.Array(NoteSchema) })
export type NoteList = Static<typeof NoteListSchema>

export const NoteCreateSchema = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    body: Type.Optional(Type.String({ maxLength: 100_000 })),
  },
  { additionalProperties: false },
)
export type NoteCreate = Static<typeof NoteCreateSchema>

export const NoteUpdateSchema = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    body: Type.Optional(Type.String({ maxLength: 100_000 })),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type NoteUpdate = Static<typeof NoteUpdateSchema>

export const NoteParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }) })
export type NoteParams = Static<typeof NoteParamsSchema>

export const RestrictedResponseSchema = Type.Object({ message: Type.String() })
export type RestrictedResponse = Static<typeof RestrictedResponseSchema>
