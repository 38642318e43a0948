import type { NotePosition } from './repositories/notes.ts'

const POSITION =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/
const MAX_CURSOR_LENGTH = 128

/** The opaque `next_cursor` of a page: base64url of `created_at|id`, not meant to be read. */
export function encodeCursor(position: NotePosition): string {
  return Buffer.from(`${position.createdAt}|${position.id}`).toString('base64url')
}

/**
 * A cursor back to the position it names, or `undefined` for anything we did not hand out: wrong
 * alphabet or padding, another layout, an impossible date (PostgreSQL would answer those with an
 * error, that is a 500).
 */
export function decodeCursor(cursor: string): NotePosition | undefined {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) return undefined
  const bytes = Buffer.from(cursor, 'base64url')
  // Buffer skips what is not base64url: only the canonical spelling of the bytes counts.
  if (bytes.toString('base64url') !== cursor) return undefined
  const match = POSITION.exec(bytes.toString('latin1'))
  if (match === null) return undefined
  const [, year, month, day, hour, minute, second, micros, id] = match
  const ms = Date.UTC(+year!, +month! - 1, +day!, +hour!, +minute!, +second!)
  const date = new Date(ms)
  if (
    Number(year) < 1970 ||
    date.getUTCFullYear() !== +year! ||
    date.getUTCMonth() !== +month! - 1 ||
    date.getUTCDate() !== +day! ||
    date.getUTCHours() !== +hour! ||
    date.getUTCMinutes() !== +minute! ||
    date.getUTCSeconds() !== +second!
  ) {
    return undefined
  }
  return { createdAt: `${year}-${month}-${day}T${hour}:${minute}:${second}.${micros}Z`, id: id! }
}
