import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from '@tessera/claims'
import type { DatabaseHandle } from '@tessera/db'

const LIVE = Object.freeze({ status: 'ok' as const })

/**
 * Liveness, and readiness (the database answers). Unauthenticated: also the ceiling the
 * benchmark measures protected routes against.
 */
export const healthRoutes: FastifyPluginCallbackTypebox<{ database: DatabaseHandle }> = (
  app,
  { database },
  done,
) => {
  app.get('/live', { schema: { response: { 200: HealthSchema } }, logLevel: 'warn' }, () => LIVE)
  app.get(
    '/ready',
    { schema: { response: { 200: HealthSchema, 503: HealthSchema } } },
    async (request, reply) => {
      try {
        await database.ping()
        return { status: 'ok' as const, checks: { database: 'ok' } }
      } catch (error) {
        request.log.error({ err: error }, 'readiness: database unreachable')
        return reply.code(503).send({ status: 'unavailable', checks: { database: 'unreachable' } })
      }
    },
  )
  done()
}
