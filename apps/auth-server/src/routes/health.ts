import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from '@tessera/claims'

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health/live',
    { schema: { tags: ['health'], response: { 200: HealthSchema } }, logLevel: 'warn' },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/health/ready',
    {
      schema: { tags: ['health'], response: { 200: HealthSchema, 503: HealthSchema } },
    },
    async (request, reply) => {
      try {
        await app.database.ping()
        return { status: 'ok' as const, checks: { database: 'ok' } }
      } catch (error) {
        request.log.error({ err: error }, 'readiness: database unreachable')
        return reply.code(503).send({ status: 'unavailable', checks: { database: 'unreachable' } })
      }
    },
  )
}
