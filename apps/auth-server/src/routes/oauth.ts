import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  OAuthErrorSchema,
  OAuthIntrospectRequestSchema,
  OAuthIntrospectResponseSchema,
  OAuthRevokeRequestSchema,
  OAuthTokenRequestSchema,
  OAuthTokenResponseSchema,
} from '@tessera/claims'
import { Type } from 'typebox'
import { ApiError, OAuthError } from '../errors.ts'
import { oauthErrorHandler } from '../plugins/error-handler.ts'
import type { IssuedTokens } from '../services/sessions.ts'
import { isRefreshToken } from '../services/tokens.ts'
import { clientInfo, noStore } from './shared.ts'

const errors = { 400: OAuthErrorSchema, 401: OAuthErrorSchema }

/**
 * RFC 6749 token endpoint (password and refresh_token grants for first-party clients), RFC 7009
 * revocation and RFC 7662 introspection. Errors are RFC 6749 bodies, never simplejwt's.
 */
export const oauthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(oauthErrorHandler)
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: 'invalid_request',
      error_description: `No OAuth endpoint at ${request.url.split('?')[0]?.slice(0, 200)}`,
    })
  })

  app.post(
    '/token',
    {
      schema: {
        tags: ['oauth'],
        summary: 'RFC 6749 token endpoint: grant_type password or refresh_token',
        body: OAuthTokenRequestSchema,
        response: { 200: OAuthTokenResponseSchema, ...errors },
      },
      // Only the password grant spends a hash: refreshes (many clients behind one NAT) are free.
      preHandler: async (request, reply) => {
        if (request.body.grant_type === 'password') await app.credentialRateLimit(request, reply)
      },
    },
    async (request, reply) => {
      const body = request.body
      let issued: IssuedTokens
      if (body.grant_type === 'password') {
        if (!body.username || !body.password) {
          throw new OAuthError('invalid_request', 'username and password are required')
        }
        issued = await asOAuth(() =>
          app.sessions.login(body.username!, body.password!, body.scope, clientInfo(request)),
        )
      } else if (body.grant_type === 'refresh_token') {
        if (!body.refresh_token)
          throw new OAuthError('invalid_request', 'refresh_token is required')
        issued = await asOAuth(() => app.sessions.refresh(body.refresh_token!, body.scope))
      } else {
        throw new OAuthError(
          'unsupported_grant_type',
          'grant_type must be password or refresh_token',
        )
      }
      noStore(reply)
      return {
        access_token: issued.access.token,
        token_type: 'Bearer' as const,
        expires_in: issued.access.expiresIn,
        refresh_token: issued.refresh,
        scope: issued.access.claims.scope,
      }
    },
  )

  app.post(
    '/revoke',
    {
      schema: {
        tags: ['oauth'],
        summary: 'RFC 7009 revocation: ends the session of a refresh or access token',
        body: OAuthRevokeRequestSchema,
        response: { 200: Type.Null({ description: 'empty body' }), ...errors },
      },
    },
    async (request, reply) => {
      const { token } = request.body
      if (!token) throw new OAuthError('invalid_request', 'token is required')
      // RFC 7009 §2.2: an invalid, unknown or already revoked token is answered 200 too.
      try {
        if (isRefreshToken(token)) {
          await app.sessions.logout(token)
        } else {
          const { session } = await app.verifyAccessToken(request, token)
          await app.sessions.endOne(session.userId, session.id)
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
      }
      noStore(reply)
      return reply.code(200).send(null)
    },
  )

  app.post(
    '/introspect',
    {
      schema: {
        tags: ['oauth'],
        summary: 'RFC 7662 introspection, for resource servers with credentials',
        body: OAuthIntrospectRequestSchema,
        response: { 200: OAuthIntrospectResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const clientId = authenticateClient(
        request.body,
        request.headers.authorization,
        app.config.introspectionClients,
      )
      const { token } = request.body
      if (!token) throw new OAuthError('invalid_request', 'token is required')
      noStore(reply)
      try {
        if (isRefreshToken(token)) {
          const claims = app.tokens.verifyRefresh(token)
          await app.sessions.checkRefresh(token)
          return {
            active: true,
            client_id: clientId,
            token_type: 'refresh_token',
            sub: claims.sub,
            exp: claims.exp,
            iat: claims.iat,
            iss: claims.iss,
            jti: claims.jti,
            sid: claims.sid,
          }
        }
        const { claims } = await app.verifyAccessToken(request, token)
        return {
          active: true,
          client_id: clientId,
          token_type: 'access_token',
          scope: claims.scope,
          sub: claims.sub,
          aud: claims.aud,
          iss: claims.iss,
          exp: claims.exp,
          iat: claims.iat,
          jti: claims.jti,
          sid: claims.sid,
        }
      } catch (error) {
        if (error instanceof ApiError) return { active: false }
        throw error
      }
    },
  )
}

/** Maps the session service's simplejwt-flavoured errors to RFC 6749 codes. */
async function asOAuth<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    if (error.fields?.scope) throw new OAuthError('invalid_scope', error.message, { cause: error })
    if (error.statusCode === 401) {
      const description =
        error.code === 'no_active_account'
          ? 'Invalid username or password'
          : 'The refresh token is invalid, expired or revoked'
      throw new OAuthError('invalid_grant', description, { cause: error })
    }
    throw error
  }
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** HTTP Basic (RFC 6749 §2.3.1) or client_id + client_secret in the body. */
function authenticateClient(
  body: { client_id?: string | undefined; client_secret?: string | undefined },
  header: string | undefined,
  clients: ReadonlyMap<string, string>,
): string {
  let id = body.client_id
  let secret = body.client_secret
  if (header?.toLowerCase().startsWith('basic ')) {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined.
    const decoded = Buffer.from(header.slice(6).trim(), 'base64')
      .toString('utf8')
      .replaceAll('+', ' ')
    const at = decoded.indexOf(':')
    if (at > 0) {
      id = safeDecode(decoded.slice(0, at))
      secret = safeDecode(decoded.slice(at + 1))
    }
  }
  const expected = id === undefined ? undefined : clients.get(id)
  // Compare digests so that neither length nor content leaks through timing.
  const ok =
    expected !== undefined &&
    secret !== undefined &&
    timingSafeEqual(digest(expected), digest(secret))
  if (!ok || id === undefined) {
    throw new OAuthError('invalid_client', 'Client authentication failed', {
      challenge: header?.toLowerCase().startsWith('basic ') ? 'Basic realm="tessera"' : undefined,
    })
  }
  return id
}
