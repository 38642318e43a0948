import type { FastifyInstance } from 'fastify'
import { HttpError } from './errors.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })
/** A `\uD800`–`\uDFFF` escape: the only way a lone surrogate gets into text decoded strictly. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/
const LONE_SURROGATE = /\p{Surrogate}/u

/**
 * JSON bodies are UTF-8 (RFC 8259 §8.1) and their strings Unicode: replaces Fastify's parser,
 * which would store invalid bytes and unpaired surrogates as U+FFFD (a note that is not what was
 * sent) and reads any declared charset as UTF-8. Another charset is a 415, invalid UTF-8 or an
 * unpaired `\uD800` escape a 400; prototype poisoning is still refused as before.
 */
export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new HttpError(415, 'unsupported_media_type', 'JSON must be sent as UTF-8.'), undefined)
      return
    }
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch (error) {
      done(
        new HttpError(400, 'parse_error', 'JSON parse error: the body is not valid UTF-8.', {
          cause: error,
        }),
        undefined,
      )
      return
    }
    parseJson(request, text, (error, value) => {
      if (error) done(error, undefined)
      else if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value)) {
        done(
          new HttpError(
            400,
            'parse_error',
            'JSON parse error: a string holds an unpaired surrogate.',
          ),
          undefined,
        )
      } else done(null, value)
    })
  })
}

/** The `charset` parameter of a Content-Type, lower-cased and unquoted, if there is one. */
function charsetOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  for (const parameter of contentType.split(';').slice(1)) {
    const at = parameter.indexOf('=')
    if (at === -1 || parameter.slice(0, at).trim().toLowerCase() !== 'charset') continue
    return parameter
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase()
  }
  return undefined
}

/** Any string, key or value, at any depth; iterative, so deep nesting cannot overflow the stack. */
function hasLoneSurrogate(root: unknown): boolean {
  const pending: unknown[] = [root]
  while (pending.length > 0) {
    const value = pending.pop()
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) return true
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item)
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, member] of Object.entries(value)) {
        if (LONE_SURROGATE.test(key)) return true
        pending.push(member)
      }
    }
  }
  return false
}
