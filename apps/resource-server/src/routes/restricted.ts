import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox'
import { RestrictedResponseSchema } from '@tessera/claims'

const RESTRICTED = Object.freeze({ message: 'You have access to this restricted content.' })

/** The seed's RestrictedView: any valid access token, no scope needed. */
export const restrictedRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/restricted',
    { onRequest: app.authenticate, schema: { response: { 200: RestrictedResponseSchema } } },
    () => RESTRICTED,
  )
  done()
}
