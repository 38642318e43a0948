import type { AccessTokenClaims, ErrorBody } from '@tessera/claims'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { JwksUnavailableError, TokenInvalidError } from './errors.ts'
import { hasScopes } from './scope.ts'
import { createVerifier, type Verifier, type VerifierOptions } from './verifier.ts'

/**
 * A route hook that authenticates (and, from `requireScopes`, authorises) the request. Works as
 * `onRequest` (recommended: nothing is parsed for an unauthenticated caller) or `preHandler`.
 */
export type AuthHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void

declare module 'fastify' {
  interface FastifyInstance {
    /** The verifier behind `authenticate`, for direct use and health checks. */
    verifier: Verifier
    /** Hook: a valid bearer access token, or 401 with RFC 6750's `WWW-Authenticate`. */
    authenticate: AuthHook
    /** Hook: authenticates if not done yet, then demands every scope, or 403 `insufficient_scope`. */
    requireScopes(...scopes: string[]): AuthHook
  }
  interface FastifyRequest {
    /** The verified claims once `authenticate` has run; `null` before (or on open routes). */
    auth: AccessTokenClaims | null
  }
}

export type FastifyVerifyOptions = { verifier: Verifier } | VerifierOptions

const NOT_AUTHENTICATED: ErrorBody = {
  detail: 'Authentication credentials were not provided.',
  code: 'not_authenticated',
}
const UNAVAILABLE: ErrorBody = {
  detail: 'Token verification is temporarily unavailable.',
  code: 'service_unavailable',
}

interface InvalidTokenAnswer {
  header: string
  body: ErrorBody & { messages: { token_class: string; token_type: string; message: string }[] }
}

// Built once per message (a fixed set per error code): rejections allocate no header string.
const invalidAnswers = new Map<string, InvalidTokenAnswer>()
function invalidAnswer(message: string): InvalidTokenAnswer {
  let answer = invalidAnswers.get(message)
  if (answer === undefined) {
    // Printable ASCII only, without quote and backslash: it must stay one quoted-string.
    const description = message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')
    answer = {
      header: `Bearer error="invalid_token", error_description="${description}"`,
      body: {
        detail: 'Given token not valid for any token type',
        code: 'token_not_valid',
        messages: [{ token_class: 'AccessToken', token_type: 'access', message: description }],
      },
    }
    // A custom verifier could make up messages without end: keep the table bounded.
    if (invalidAnswers.size < 100) invalidAnswers.set(message, answer)
  }
  return answer
}
const MALFORMED_HEADER = 'Authorization header must contain two space-delimited values'

/**
 * Reads `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235). `undefined` when the
 * request carries no bearer credentials at all, `''` when it does but malformed.
 */
export function extractBearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 6) return undefined
  // "bearer" in any case, one character at a time: `| 0x20` lower-cases an ASCII letter and maps
  // nothing else onto one, so nothing is allocated for the scheme on this per-request path.
  if (
    (header.charCodeAt(0) | 0x20) !== 0x62 ||
    (header.charCodeAt(1) | 0x20) !== 0x65 ||
    (header.charCodeAt(2) | 0x20) !== 0x61 ||
    (header.charCodeAt(3) | 0x20) !== 0x72 ||
    (header.charCodeAt(4) | 0x20) !== 0x65 ||
    (header.charCodeAt(5) | 0x20) !== 0x72
  ) {
    return undefined
  }
  if (header.length === 6) return ''
  if (header.charCodeAt(6) !== 32) return undefined
  const token = header.slice(7)
  return token.length === 0 || token.includes(' ') ? '' : token
}

const plugin: FastifyPluginCallback<FastifyVerifyOptions> = (fastify, options, done) => {
  const verifier = 'verifier' in options ? options.verifier : createVerifier(options)

  function reject(reply: FastifyReply, error: unknown, next: (error?: Error) => void): void {
    if (error instanceof TokenInvalidError) {
      const answer = invalidAnswer(error.message)
      reply.code(401).header('www-authenticate', answer.header).send(answer.body)
    } else if (error instanceof JwksUnavailableError) {
      reply.log.warn({ err: error }, 'JWKS unavailable: cannot verify tokens')
      // The JWKS cache retries after its cooldown (5 s by default).
      reply.code(503).header('retry-after', '5').send(UNAVAILABLE)
    } else {
      next(error instanceof Error ? error : new Error(String(error)))
    }
  }

  function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (error?: Error) => void,
    scopes: readonly string[] | undefined,
    forbidden: ForbiddenAnswer | undefined,
  ): void {
    if (scopes !== undefined) {
      let allowed: boolean
      try {
        allowed = hasScopes(request.auth!.scope, scopes)
      } catch (error) {
        // Claims without a `scope` string, from a custom verifier: a server bug, so a 500 from
        // the error handler, not an exception in a promise callback that leaves the request hanging.
        done(error instanceof Error ? error : new Error(String(error)))
        return
      }
      if (!allowed) {
        reply.code(403).header('www-authenticate', forbidden!.header).send(forbidden!.body)
        return
      }
    }
    done()
  }

  function guard(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (error?: Error) => void,
    scopes: readonly string[] | undefined,
    forbidden: ForbiddenAnswer | undefined,
  ): void {
    if (request.auth === null) {
      const token = extractBearerToken(request.headers.authorization)
      if (token === undefined) {
        reply.code(401).header('www-authenticate', 'Bearer').send(NOT_AUTHENTICATED)
        return
      }
      if (token === '') {
        const answer = invalidAnswer(MALFORMED_HEADER)
        reply.code(401).header('www-authenticate', answer.header).send(answer.body)
        return
      }
      const claims = verifier.peek(token)
      if (claims === undefined) {
        verifier.verify(token).then(
          (verified) => {
            request.auth = verified
            finish(request, reply, done, scopes, forbidden)
          },
          (error: unknown) => reject(reply, error, done),
        )
        return
      }
      request.auth = claims
    }
    finish(request, reply, done, scopes, forbidden)
  }

  const authenticate: AuthHook = (request, reply, done) =>
    guard(request, reply, done, undefined, undefined)

  function requireScopes(...scopes: string[]): AuthHook {
    if (scopes.length === 0 || scopes.some((scope) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope))) {
      throw new TypeError('requireScopes: give one or more scope tokens (RFC 6749 §3.3)')
    }
    const required = [...scopes]
    const forbidden = forbiddenAnswer(required)
    return (request, reply, done) => guard(request, reply, done, required, forbidden)
  }

  fastify.decorate('verifier', verifier)
  fastify.decorate('authenticate', authenticate)
  fastify.decorate('requireScopes', requireScopes)
  fastify.decorateRequest('auth', null)
  done()
}

interface ForbiddenAnswer {
  header: string
  body: ErrorBody
}

function forbiddenAnswer(scopes: readonly string[]): ForbiddenAnswer {
  const scope = scopes.join(' ')
  return {
    header: `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}"`,
    body: { detail: `This action requires the scope "${scope}".`, code: 'insufficient_scope' },
  }
}

/**
 * Fastify plugin: decorates `request.auth`, `fastify.authenticate`, `fastify.requireScopes(...)`
 * and `fastify.verifier`. Pass a verifier, or the options to make one.
 *
 * 401 answers carry `WWW-Authenticate: Bearer error="invalid_token", error_description="…"`
 * (RFC 6750 §3; no error attribute when no credentials were sent) and simplejwt's body;
 * a missing scope answers 403 `insufficient_scope`; an unreachable JWKS with nothing cached, 503.
 *
 * @example
 * await app.register(fastifyVerify, { issuer, audience: 'tessera', algorithms: ['EdDSA'], jwksUrl })
 * app.get('/api/notes', { onRequest: app.requireScopes('notes:read') }, (request) => request.auth!.sub)
 */
export const fastifyVerify = fp(plugin, { name: '@tessera/verify', fastify: '5.x' })
