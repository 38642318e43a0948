import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientInfo } from '../services/sessions.ts'

/** RFC 6749 §5.1: token responses must not be cached anywhere. */
export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers['user-agent']
  return { userAgent: typeof userAgent === 'string' ? userAgent : undefined, ip: request.ip }
}
