import { type Static, Type } from 'typebox'

// PostgreSQL `text` cannot hold U+0000: without this a NUL in a note is a 500, not a 400.
const NO_NUL = '^[^\\u0000]*$'
const Title = Type.String({ minLength: 1, maxLength: 200, pattern: NO_NUL })
const Body = Type.String({ maxLength: 100_000, pattern: NO_NUL })
// Canonical 8-4-4-4-12 hex only: the `uuid` format alone also admits `urn:uuid:…`, which
// PostgreSQL's uuid type refuses (a 500 instead of a 400).
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

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
