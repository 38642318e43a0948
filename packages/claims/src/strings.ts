import { type TString, Type } from 'typebox'

/** PostgreSQL `text` cannot hold U+0000: without this pattern a NUL is a 500, not a 400. */
export const NO_NUL_PATTERN = '^[^\\u0000]*$'

/**
 * Canonical 8-4-4-4-12 hex only: the `uuid` format alone also admits `urn:uuid:…`, which
 * PostgreSQL's uuid type refuses (a 500 instead of a 400).
 */
export const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

/** A string a client may send: bounded, and never with a NUL. */
export function ClientString(options: { minLength?: number; maxLength: number }): TString {
  return Type.String({ pattern: NO_NUL_PATTERN, ...options })
}

export const Uuid = (): TString => Type.String({ pattern: UUID_PATTERN, format: 'uuid' })
