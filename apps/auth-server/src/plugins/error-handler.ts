import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError, OAuthError } from '../errors.ts'

interface ValidationIssue {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

/** Turns Ajv errors into DRF field errors: `{"username": ["This field is required."]}`. */
export function fieldErrors(issues: readonly ValidationIssue[]): Record<string, string[]> {
  const fields: Record<string, string[]> = {}
  const add = (field: string, message: string) => {
    const list = fields[field] ?? []
    if (!list.includes(message)) list.push(message)
    fields[field] = list
  }
  for (const issue of issues) {
    const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.')
    switch (issue.keyword) {
      case 'required':
        add(String(issue.params.missingProperty), 'This field is required.')
        break
      case 'additionalProperties':
        add(String(issue.params.additionalProperty), 'Unexpected field.')
        break
      case 'minProperties':
        add('non_field_errors', 'At least one field is required.')
        break
      case 'type':
        if (!path) add('non_field_errors', 'Invalid data. Expected a dictionary.')
        else
          add(path, `Not a valid ${issue.params.type === 'string' ? 'string' : issue.params.type}.`)
        break
      case 'minLength':
        add(
          path,
          issue.params.limit === 1
            ? 'This field may not be blank.'
            : `Ensure this field has at least ${issue.params.limit} characters.`,
        )
        break
      case 'maxLength':
        add(path, `Ensure this field has no more than ${issue.params.limit} characters.`)
        break
      case 'format':
        add(
          path,
          issue.params.format === 'email'
            ? 'Enter a valid email address.'
            : `Enter a valid ${issue.params.format}.`,
        )
        break
      case 'pattern':
        add(
          path,
          path === 'username'
            ? 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'
            : 'Enter a valid value.',
        )
        break
      default:
        add(path || 'non_field_errors', 'Invalid value.')
    }
  }
  return fields
}

const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string; detail: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    detail:
      'Unsupported media type in request. Send application/json or application/x-www-form-urlencoded.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'request_too_large',
    detail: 'Request body is too large.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'parse_error',
    detail: 'JSON parse error - the body is empty.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'parse_error',
    detail: 'The Content-Length header does not match the body.',
  },
}

export interface ClientErrorBody {
  status: number
  /** DRF-style body for `/api/*`. */
  body: Record<string, unknown>
  /** RFC 6749 error code for `/oauth/*`. */
  oauth: { error: string; error_description: string }
  headers: Record<string, string>
}

/** One mapping from any thrown error to a client-safe answer; internals never leave. */
export function describeError(error: unknown): ClientErrorBody | undefined {
  if (error instanceof OAuthError) {
    return {
      status: error.statusCode,
      body: { detail: error.message, code: error.error },
      oauth: { error: error.error, error_description: error.message },
      headers: error.challenge ? { 'www-authenticate': error.challenge } : {},
    }
  }
  if (error instanceof ApiError) {
    const headers: Record<string, string> = {}
    if (error.code === 'token_not_valid') {
      headers['www-authenticate'] =
        `Bearer error="invalid_token", error_description="${error.message.replaceAll('"', "'")}"`
    } else if (error.statusCode === 401) {
      headers['www-authenticate'] = 'Bearer realm="api"'
    }
    return {
      status: error.statusCode,
      body:
        error.fields && error.statusCode === 400
          ? error.fields
          : { detail: error.message, code: error.code },
      oauth: {
        error: error.statusCode === 401 ? 'invalid_grant' : 'invalid_request',
        error_description: error.message,
      },
      headers,
    }
  }
  const fastifyError = error as Partial<FastifyError> & { validation?: ValidationIssue[] }
  if (fastifyError.validation) {
    const fields = fieldErrors(fastifyError.validation)
    const first = Object.entries(fields)[0]
    return {
      status: 400,
      body: fields,
      oauth: {
        error: 'invalid_request',
        error_description: first ? `${first[0]}: ${first[1][0]}` : 'Invalid request.',
      },
      headers: {},
    }
  }
  const known = fastifyError.code ? FASTIFY_CLIENT_ERRORS[fastifyError.code] : undefined
  if (known) {
    return {
      status: known.status,
      body: { detail: known.detail, code: known.code },
      oauth: { error: 'invalid_request', error_description: known.detail },
      headers: {},
    }
  }
  if (error instanceof SyntaxError && /prototype|constructor/i.test(error.message)) {
    const detail =
      'JSON parse error - the body contains a forbidden key (__proto__ or constructor).'
    return {
      status: 400,
      body: { detail, code: 'parse_error' },
      oauth: { error: 'invalid_request', error_description: detail },
      headers: {},
    }
  }
  if (
    error instanceof SyntaxError ||
    fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    (fastifyError.statusCode === 400 && fastifyError.code?.startsWith('FST_ERR_CTP'))
  ) {
    return {
      status: 400,
      body: { detail: 'JSON parse error - the body is not valid JSON.', code: 'parse_error' },
      oauth: { error: 'invalid_request', error_description: 'The body could not be parsed.' },
      headers: {},
    }
  }
  if (fastifyError.statusCode === 429) {
    const detail = fastifyError.message ?? 'Request was throttled.'
    return {
      status: 429,
      body: { detail, code: 'throttled' },
      oauth: { error: 'temporarily_unavailable', error_description: detail },
      headers: {},
    }
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return {
      status: fastifyError.statusCode,
      body: { detail: 'Bad request.', code: 'invalid' },
      oauth: { error: 'invalid_request', error_description: 'Bad request.' },
      headers: {},
    }
  }
  return undefined
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  format: 'api' | 'oauth',
): FastifyReply {
  const described = describeError(error)
  if (!described) {
    request.log.error({ err: error }, 'unhandled error')
    const body =
      format === 'oauth'
        ? { error: 'server_error', error_description: 'Internal server error.' }
        : { detail: 'Internal server error.', code: 'internal_error' }
    return reply.code(500).type('application/json').send(body)
  }
  if (described.status >= 500) request.log.error({ err: error }, 'server error')
  if (format === 'oauth') {
    // RFC 6749 §5.2: 400 for every error but invalid_client (401); HTTP-level ones keep theirs.
    const status =
      described.oauth.error === 'invalid_client'
        ? 401
        : [413, 415, 429].includes(described.status)
          ? described.status
          : 400
    return reply
      .code(status)
      .headers(described.oauth.error === 'invalid_client' ? described.headers : {})
      .type('application/json')
      .send(described.oauth)
  }
  return reply
    .code(described.status)
    .headers(described.headers)
    .type('application/json')
    .send(described.body)
}

/**
 * Errors the router raises before any route runs (a bad percent-encoding, an over-long
 * parameter): the same bodies as everything else, never Fastify's own.
 */
export function frameworkErrorHandler(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  return send(request, reply, error, request.url.startsWith('/oauth/') ? 'oauth' : 'api')
}

/** Error handler for an encapsulated context whose errors follow RFC 6749 (`/oauth/*`). */
export function oauthErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  return send(request, reply, error, 'oauth')
}

async function errorHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => send(request, reply, error, 'api'))
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      detail: `No route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}.`,
      code: 'not_found',
    })
  })
}

export const errorHandlerPlugin = fp(errorHandler, { name: 'error-handler' })
