import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** Route `config.rateLimit` for endpoints that spend a password hash (login, register). */
    credentialRateLimit: { max: number; timeWindow: number } | false
  }
}

async function rateLimit(app: FastifyInstance): Promise<void> {
  const { config } = app
  let redis: Redis | undefined
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, {
      connectTimeout: 2_000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    })
    await redis.connect()
    app.addHook('onClose', async () => {
      await redis?.quit()
    })
  }
  await app.register(fastifyRateLimit, {
    global: false,
    nameSpace: 'tessera-rl:',
    ...(redis ? { redis } : {}),
    // A broken Redis must not lock every user out: count locally-unlimited instead of failing.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => {
      const error = new Error(
        `Request was throttled. Expected available in ${Math.ceil(context.ttl / 1000)} seconds.`,
      ) as Error & { statusCode: number }
      error.statusCode = 429
      return error
    },
  })
  app.decorate(
    'credentialRateLimit',
    config.loginRateLimitPerMinute > 0
      ? { max: config.loginRateLimitPerMinute, timeWindow: 60_000 }
      : false,
  )
}

export const rateLimitPlugin = fp(rateLimit, { name: 'rate-limit', dependencies: ['services'] })
