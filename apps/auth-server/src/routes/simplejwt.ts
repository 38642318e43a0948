import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  EmptySchema,
  ErrorBodySchema,
  TokenBlacklistRequestSchema,
  TokenObtainRequestSchema,
  TokenPairSchema,
  TokenRefreshRequestSchema,
  TokenVerifyRequestSchema,
} from '@tessera/claims'
import { isRefreshToken } from '../services/tokens.ts'
import { clientInfo, noStore } from './shared.ts'

const errors = { 401: ErrorBodySchema }

/**
 * djangorestframework-simplejwt's four views, same paths, bodies and status codes, so its
 * clients (and their axios interceptors) port unchanged.
 */
export const simplejwtRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/token/',
    {
      schema: {
        tags: ['simplejwt'],
        summary: 'Obtain an access and refresh token pair (TokenObtainPairView)',
        body: TokenObtainRequestSchema,
        response: { 200: TokenPairSchema, ...errors },
      },
      preHandler: app.credentialRateLimit,
    },
    async (request, reply) => {
      const { username, password, scope } = request.body
      const issued = await app.sessions.login(username, password, scope, clientInfo(request))
      noStore(reply)
      return { refresh: issued.refresh, access: issued.access.token }
    },
  )

  app.post(
    '/api/token/refresh/',
    {
      schema: {
        tags: ['simplejwt'],
        summary: 'Rotate a refresh token (TokenRefreshView, ROTATE_REFRESH_TOKENS on)',
        body: TokenRefreshRequestSchema,
        response: { 200: TokenPairSchema, ...errors },
      },
    },
    async (request, reply) => {
      const issued = await app.sessions.refresh(request.body.refresh)
      noStore(reply)
      return { access: issued.access.token, refresh: issued.refresh }
    },
  )

  app.post(
    '/api/token/verify/',
    {
      schema: {
        tags: ['simplejwt'],
        summary: 'Check an access or refresh token (TokenVerifyView)',
        body: TokenVerifyRequestSchema,
        response: { 200: EmptySchema, ...errors },
      },
    },
    async (request) => {
      const { token } = request.body
      // simplejwt's view accepts either kind; each is checked by its own key and rules.
      if (isRefreshToken(token)) await app.sessions.checkRefresh(token)
      else await app.verifyAccessToken(request, token)
      return {}
    },
  )

  app.post(
    '/api/token/blacklist/',
    {
      schema: {
        tags: ['simplejwt'],
        summary: 'Log out: end the session a refresh token belongs to (TokenBlacklistView)',
        body: TokenBlacklistRequestSchema,
        response: { 200: EmptySchema, ...errors },
      },
    },
    async (request) => {
      await app.sessions.logout(request.body.refresh)
      return {}
    },
  )
}
