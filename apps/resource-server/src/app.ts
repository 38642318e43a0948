import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { createDatabase, type DatabaseHandle } from '@tessera/db'
import { fastifyVerify } from '@tessera/verify/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import { frameworkErrorHandler, installErrorHandlers } from './errors.ts'
import { installJsonParser } from './json-body.ts'
import { createNotesRepository } from './repositories/notes.ts'
import { healthRoutes } from './routes/health.ts'
import { notesRoutes } from './routes/notes.ts'
import { restrictedRoutes } from './routes/restricted.ts'

export interface AppDeps {
  /** Milliseconds since the epoch, for token expiry and the JWKS cache; `Date.now` by default. */
  clock?: () => number
  /** An open database to use (and leave open); otherwise one is opened from the config. */
  database?: DatabaseHandle
  /** For the JWKS requests; the global `fetch` by default. */
  fetch?: typeof fetch
  /** JWKS cache tuning; the verifier's defaults otherwise. */
  jwks?: { cooldownMs?: number; defaultMaxAgeMs?: number; timeoutMs?: number; maxStaleMs?: number }
}

export const BODY_LIMIT = 1024 * 1024

/**
 * The resource server: `/api/restricted/` and `/api/notes`, authenticated by `@tessera/verify`
 * against the auth server's JWKS. Never listens; `server.ts` does.
 *
 * @example
 * const app = await buildApp(loadConfig(process.env))
 * await app.listen({ port: 4001 })
 */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      ...(config.logFormat === 'pretty'
        ? {
            transport: {
              target: 'pino-pretty',
              options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' },
            },
          }
        : {}),
    },
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkErrorHandler,
    ajv: {
      // Bodies are taken as sent: no "123" for 123, no silently dropped unknown fields.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  const database =
    deps.database ?? (await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir }))
  if (deps.database === undefined) app.addHook('onClose', () => database.close())

  try {
    installErrorHandlers(app)
    // Only JSON is spoken here; a text/plain body is a 415, not a string that fails validation.
    app.removeContentTypeParser('text/plain')
    installJsonParser(app)

    await app.register(fastifyVerify, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      jwksUrl: config.jwksUrl,
      clock: deps.clock,
      fetch: deps.fetch,
      jwks: deps.jwks,
    })
    await app.register(healthRoutes, { prefix: '/health', database })
    await app.register(restrictedRoutes, { prefix: '/api' })
    await app.register(notesRoutes, {
      prefix: '/api/notes',
      notes: createNotesRepository(database.db),
      maxNotesPerOwner: config.notesMaxPerUser,
    })
    await app.ready()
  } catch (error) {
    await app.close().catch(() => {})
    throw error
  }
  return app
}
