import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ErrorBodySchema,
  MeResponseSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
} from '@tessera/claims'
import { ApiError } from '../errors.ts'

export const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/register/',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account',
        body: RegisterRequestSchema,
        response: { 201: RegisterResponseSchema, 403: ErrorBodySchema, 409: ErrorBodySchema },
      },
      preHandler: app.credentialRateLimit,
    },
    async (request, reply) => {
      if (!app.config.registrationEnabled) {
        throw new ApiError(403, 'permission_denied', 'Registration is closed on this server.')
      }
      const user = await app.accounts.register(request.body)
      request.log.info({ userId: user.id }, 'account registered')
      return reply.code(201).send({ id: String(user.id), username: user.username })
    },
  )

  app.get(
    '/api/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'The account the access token belongs to',
        security: [{ bearer: [] }],
        response: { 200: MeResponseSchema, 401: ErrorBodySchema },
      },
      preHandler: app.requireUser,
    },
    async (request) => {
      const { claims, session } = request.principal!
      const user = await app.accounts.findById(session.userId)
      if (!user) throw new ApiError(404, 'not_found', 'The account no longer exists.')
      return {
        id: claims.sub,
        username: user.username,
        email: user.email,
        scopes: claims.scope ? claims.scope.split(' ') : [],
        session_id: session.id,
        created_at: user.createdAt.toISOString(),
      }
    },
  )
}
