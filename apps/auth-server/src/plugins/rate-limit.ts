import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler for every route that spends a password hash (login, registration, the password
     * grant): one budget per client IP shared by all of them, so three routes are not three
     * times the guesses.
     */
    credentialRateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>
  }
}

async function rateLimit(app: FastifyInstance): Promise<void> {
  const { config } = app
  let redis: Redis | undefined
  if (config.redisUrl) {
    redis = await connectRedis(app, config.redisUrl)
    const client = redis
    app.addHook('onClose', async () => {
      client.disconnect()
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
  const limit =
    config.loginRateLimitPerMinute > 0
      ? app.rateLimit({ max: config.loginRateLimitPerMinute, timeWindow: 60_000 })
      : undefined
  app.decorate('credentialRateLimit', async (request: FastifyRequest, reply: FastifyReply) => {
    await limit?.call(app, request, reply)
  })
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError'
  readonly code = 'REDIS_UNAVAILABLE'
}

/**
 * Connects once at start: a REDIS_URL that does not answer stops the start with a clear message.
 * Later outages are logged (once per outage) and rate limits are skipped meanwhile, so a broken
 * Redis never locks users out.
 */
async function connectRedis(app: FastifyInstance, url: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  })
  let down = false
  let lastError: Error | undefined
  redis.on('error', (error: Error) => {
    lastError = error
    if (down) return
    down = true
    app.log.warn({ err: error }, 'redis unreachable: rate limits are not enforced until it is back')
  })
  redis.on('ready', () => {
    if (down) app.log.info('redis reachable again')
    down = false
  })
  try {
    await redis.connect()
  } catch (cause) {
    redis.disconnect()
    const where = new URL(url)
    throw new RedisUnavailableError(
      `Redis at ${where.host} (REDIS_URL) does not answer: ${(lastError ?? (cause as Error)).message}`,
      { cause },
    )
  }
  return redis
}

export const rateLimitPlugin = fp(rateLimit, { name: 'rate-limit', dependencies: ['services'] })
