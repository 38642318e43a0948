import cors from '@fastify/cors'
import formbody from '@fastify/formbody'
import fastifySwagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { authenticatePlugin } from './plugins/authenticate.ts'
import { errorHandlerPlugin, frameworkErrorHandler } from './plugins/error-handler.ts'
import { rateLimitPlugin } from './plugins/rate-limit.ts'
import { type ServiceDependencies, servicesPlugin } from './plugins/services.ts'
import { accountRoutes } from './routes/accounts.ts'
import { docsRoutes } from './routes/docs.ts'
import { healthRoutes } from './routes/health.ts'
import { oauthRoutes } from './routes/oauth.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { simplejwtRoutes } from './routes/simplejwt.ts'
import { wellKnownRoutes } from './routes/well-known.ts'

export interface AppDependencies extends ServiceDependencies {
  /** Fastify logger option; defaults to pino at `config.logLevel`. */
  logger?: FastifyServerOptions['logger']
}

export const BODY_LIMIT = 1024 * 1024

/** Trust the first `hops` proxies in front of us (proxy-addr's hop count, as a function). */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops
}

/**
 * Builds the auth server: plugins, then routes, registered explicitly. Only `server.ts` listens;
 * tests call this and use `app.inject` or `app.listen({ port: 0 })`.
 *
 * @example
 * const app = await buildApp(loadConfig(process.env))
 * await app.listen({ port: app.config.port, host: app.config.host })
 */
export async function buildApp(
  config: Config,
  deps: AppDependencies = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'body.password'],
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
    trustProxy:
      typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // No type coercion: `{"username": ["a"]}` is a 400, not a login as "a".
    ajv: { customOptions: { allErrors: true, coerceTypes: false } },
    frameworkErrors: frameworkErrorHandler,
    // Argon2's dummy hash and PGlite's first start can take a while on a loaded machine.
    pluginTimeout: 60_000,
    requestIdHeader: false,
  }).withTypeProvider<TypeBoxTypeProvider>()

  try {
    await app.register(errorHandlerPlugin)
    if (config.corsOrigins.length > 0) {
      // Tokens travel in bodies and the Authorization header, never in cookies: no credentials.
      await app.register(cors, {
        origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
        methods: ['GET', 'POST', 'DELETE'],
        allowedHeaders: ['authorization', 'content-type'],
        exposedHeaders: ['retry-after', 'www-authenticate'],
        maxAge: 600,
      })
    }
    await app.register(formbody)
    // DRF answers a POST without a body with "This field is required." for each field.
    app.addHook('preValidation', async (request) => {
      if (request.body === undefined && request.method === 'POST') request.body = {}
    })
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'Tessera auth server',
          version: '0.1.0',
          description: 'simplejwt-compatible token endpoints, OAuth 2.0 endpoints, sessions, JWKS.',
        },
        servers: [{ url: config.issuer }],
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
    })
    await app.register(servicesPlugin, { config, deps })
    await app.register(rateLimitPlugin)
    await app.register(authenticatePlugin)

    await app.register(simplejwtRoutes)
    await app.register(accountRoutes)
    await app.register(sessionRoutes)
    await app.register(oauthRoutes, { prefix: '/oauth' })
    await app.register(wellKnownRoutes)
    await app.register(healthRoutes)
    await app.register(docsRoutes)
    await app.ready()
  } catch (error) {
    // Close what did open (database pool, Redis) so a failed start never hangs the process.
    await app.close().catch(() => {})
    throw error
  }
  return app
}
