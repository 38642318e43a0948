import fastifyJwt from '@fastify/jwt'
import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from '@tessera/claims'
import type { Session } from '@tessera/db'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidTokenError, NotAuthenticatedError } from '../errors.ts'

export interface Authenticated {
  claims: AccessTokenClaims
  session: Session
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler: a valid access token of a live session, or 401. Sets `request.principal`.
     * (Named apart from @tessera/verify's `authenticate`/`request.auth`, so that a program
     * that loads both servers still typechecks.)
     */
    requireUser(request: FastifyRequest): Promise<void>
    /** Checks any access token (signature, iss, aud, typ, expiry, live session). */
    verifyAccessToken(request: FastifyRequest, token: string): Promise<Authenticated>
  }
  interface FastifyRequest {
    principal: Authenticated | null
    /** The token `verifyAccessToken` is checking; read by @fastify/jwt's `extractToken`. */
    tokenUnderCheck: string | null
  }
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i

async function authenticate(app: FastifyInstance): Promise<void> {
  const { keys, tokens, sessions, config } = app
  await app.register(fastifyJwt, {
    secret: {
      // Verification only: signing goes through the key store, which owns the private keys.
      public: async (_request: FastifyRequest, token: unknown) => {
        const kid = (token as { header?: { kid?: unknown } }).header?.kid
        const pem = typeof kid === 'string' ? await keys.publicKeyPem(kid) : undefined
        if (!pem) throw new InvalidTokenError('Given token not valid for any token type')
        return pem
      },
    },
    decode: { complete: true },
    verify: {
      algorithms: [keys.algorithm],
      allowedIss: config.issuer,
      allowedAud: config.audience,
      checkTyp: ACCESS_TOKEN_TYP,
      // Expiry is checked against the injectable clock in `checkAccessClaims`.
      ignoreExpiration: true,
      ignoreNotBefore: true,
      requiredClaims: ['sub', 'sid', 'exp', 'iat', 'jti'],
      cache: 10_000,
      // One global verifier (and cache): the token comes from wherever the route found it.
      extractToken: (request) => request.tokenUnderCheck ?? undefined,
    },
  })

  async function verifyAccessToken(request: FastifyRequest, token: string) {
    let payload: unknown
    try {
      request.tokenUnderCheck = token
      payload = await request.jwtVerify()
    } catch (cause) {
      throw new InvalidTokenError('Given token not valid for any token type', { cause })
    }
    const claims = tokens.checkAccessClaims(payload)
    const session = await sessions.findLive(claims.sid)
    if (!session || String(session.userId) !== claims.sub) {
      throw new InvalidTokenError('Token is invalid or expired')
    }
    return { claims, session }
  }

  app.decorateRequest('principal', null)
  app.decorateRequest('tokenUnderCheck', null)
  app.decorate('verifyAccessToken', verifyAccessToken)
  app.decorate('requireUser', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    const match = header ? BEARER.exec(header) : null
    if (!match) {
      if (header && /^Bearer\b/i.test(header)) throw new InvalidTokenError('Malformed Bearer token')
      throw new NotAuthenticatedError()
    }
    request.principal = await verifyAccessToken(request, match[1]!)
  })
}

export const authenticatePlugin = fp(authenticate, {
  name: 'authenticate',
  dependencies: ['services'],
})
