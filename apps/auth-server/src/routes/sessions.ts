import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBodySchema, SessionListSchema, SessionsEndedSchema, Uuid } from '@tessera/claims'
import { Type } from 'typebox'
import { ApiError } from '../errors.ts'

const security = [{ bearer: [] }]

/** A user's own sessions: list them, end one, all, or all but the current one. */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preHandler', app.requireUser)

  app.get(
    '/api/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'List your live sessions, most recently used first',
        security,
        response: { 200: SessionListSchema, 401: ErrorBodySchema },
      },
    },
    async (request) => {
      const { session: current } = request.principal!
      const rows = await app.sessions.listLive(current.userId)
      return {
        sessions: rows.map((s) => ({
          id: s.id,
          current: s.id === current.id,
          user_agent: s.userAgent,
          ip: s.ip,
          scope: s.scope,
          created_at: s.createdAt.toISOString(),
          last_used_at: s.lastUsedAt.toISOString(),
          expires_at: new Date(
            Math.min(s.expiresAt.getTime(), s.idleExpiresAt.getTime()),
          ).toISOString(),
        })),
      }
    },
  )

  app.delete(
    '/api/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End every session of your account, this one included (log out everywhere)',
        security,
        response: { 200: SessionsEndedSchema, 401: ErrorBodySchema },
      },
    },
    async (request) => {
      const { session } = request.principal!
      return { ended: await app.sessions.endAll(session.userId) }
    },
  )

  app.delete(
    '/api/sessions/others',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End every other session of your account',
        security,
        response: { 200: SessionsEndedSchema, 401: ErrorBodySchema },
      },
    },
    async (request) => {
      const { session } = request.principal!
      return { ended: await app.sessions.endAll(session.userId, session.id) }
    },
  )

  app.delete(
    '/api/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'End one of your sessions (`current` names the one asking)',
        security,
        params: Type.Object({
          id: Type.Union([Type.Literal('current'), Uuid()]),
        }),
        response: { 200: SessionsEndedSchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
      },
    },
    async (request) => {
      const { session } = request.principal!
      const id = request.params.id === 'current' ? session.id : request.params.id
      if (!(await app.sessions.endOne(session.userId, id))) {
        throw new ApiError(404, 'not_found', 'No such live session.')
      }
      return { ended: 1 }
    },
  )
}
