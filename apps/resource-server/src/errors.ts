import type { ErrorBody, ErrorCode, FieldErrors } from '@tessera/claims'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Codes only this API answers with, beside the shared ones of `@tessera/claims`:
 * `note_limit_reached` (403) when an owner already has `NOTES_MAX_PER_USER` notes.
 */
export type ResourceErrorCode = 'note_limit_reached'

/** An error that is an answer: status, stable code and a message safe to show. */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: ErrorCode | ResourceErrorCode

  constructor(
    statusCode: number,
    code: ErrorCode | ResourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'HttpError'
    this.statusCode = statusCode
    this.code = code
  }
}

export class NotFoundError extends HttpError {
  constructor() {
    super(404, 'not_found', 'Not found.')
    this.name = 'NotFoundError'
  }
}

/** The owner already keeps as many notes as allowed: delete one to make room. */
export class NoteLimitError extends HttpError {
  constructor(limit: number) {
    super(
      403,
      'note_limit_reached',
      `You have reached the limit of ${limit} notes; delete one to create another.`,
    )
    this.name = 'NoteLimitError'
  }
}

interface FastifyValidationIssue {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
}

const FRAMEWORK_ERRORS: Record<string, { statusCode: number; body: ErrorBody }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    statusCode: 400,
    body: { detail: 'JSON parse error.', code: 'parse_error' },
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    statusCode: 400,
    body: { detail: 'JSON parse error: the body is empty.', code: 'parse_error' },
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    statusCode: 400,
    body: { detail: 'Content-Length does not match the body.', code: 'parse_error' },
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    statusCode: 413,
    body: { detail: 'Request body is too large.', code: 'request_too_large' },
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    statusCode: 415,
    body: { detail: 'Unsupported media type in request.', code: 'unsupported_media_type' },
  },
}

const INTERNAL: ErrorBody = { detail: 'A server error occurred.', code: 'internal_error' }
const BAD_REQUEST: ErrorBody = { detail: 'Bad request.', code: 'invalid' }

/**
 * One error handler for the app: our `HttpError`s as they are, validation errors as DRF field
 * errors (`{"title": ["This field is required."]}`), framework errors as `{detail, code}`, and
 * anything else as a 500 that never echoes its message.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).send({ detail: error.message, code: error.code })
    }
    if (error.validation) {
      return reply.code(400).send(validationBody(error.validationContext, error.validation))
    }
    const known = error.code === undefined ? undefined : FRAMEWORK_ERRORS[error.code]
    if (known !== undefined) return reply.code(known.statusCode).send(known.body)
    const status = error.statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      // A client error we did not name (a malformed header, say): its status, not its message.
      return reply.code(status).send(BAD_REQUEST)
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send(INTERNAL)
  })

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ detail: 'Not found.', code: 'not_found' })
  })
}

/**
 * For Fastify's `frameworkErrors`: errors the router raises before any hook or route runs (a bad
 * percent-encoding, an over-long parameter) bypass the error handler. They get the same bodies as
 * everything else, never Fastify's own, which echo the path.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    reply.code(status).send(BAD_REQUEST)
    return
  }
  request.log.error({ err: error }, 'router error')
  reply.code(500).send(INTERNAL)
}

function validationBody(
  context: string | undefined,
  issues: readonly FastifyValidationIssue[],
): FieldErrors | ErrorBody {
  if (context === 'params') return { detail: 'Not a valid note id.', code: 'invalid' }
  if (context === 'querystring') {
    // A repeated parameter (`?limit=1&limit=2`) arrives as an array.
    const name = issues[0]?.instancePath.split('/')[1] ?? ''
    return { detail: `The query parameter ${name} must be given once.`, code: 'invalid' }
  }
  const fields: FieldErrors = {}
  for (const issue of issues) {
    const [field, message] = describeIssue(issue)
    const list = fields[field] ?? []
    if (!list.includes(message)) list.push(message)
    fields[field] = list
  }
  return fields
}

function describeIssue(issue: FastifyValidationIssue): [string, string] {
  const field = issue.instancePath.split('/')[1] ?? ''
  const params = issue.params
  switch (issue.keyword) {
    case 'required':
      return [String(params.missingProperty), 'This field is required.']
    case 'additionalProperties':
      return [String(params.additionalProperty), 'Unknown field.']
    case 'minProperties':
      return ['non_field_errors', 'Provide at least one field to change.']
    case 'type':
      if (field === '') return ['non_field_errors', 'Invalid data. Expected a dictionary.']
      return [field, params.type === 'string' ? 'Not a valid string.' : 'Invalid value.']
    case 'minLength':
      return [field, 'This field may not be blank.']
    case 'maxLength':
      return [field, `Ensure this field has no more than ${params.limit} characters.`]
    case 'pattern':
      return [field, 'Null characters are not allowed.']
    default:
      return [field || 'non_field_errors', 'Invalid value.']
  }
}
