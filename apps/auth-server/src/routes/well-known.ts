import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthorizationServerMetadataSchema, JwksSchema, SCOPES } from '@tessera/claims'

/** JWKS and RFC 8414 metadata, answered at exactly these paths (no redirect, no slash variant). */
export const wellKnownRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { issuer } = app.config
  const metadata = {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: ['password', 'refresh_token'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [...SCOPES],
    service_documentation: `${issuer}/docs`,
  }

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Public signing keys (standby, current and retired)',
        response: { 200: JwksSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return app.keys.jwks()
    },
  )

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        tags: ['discovery'],
        summary: 'RFC 8414 authorization server metadata',
        response: { 200: AuthorizationServerMetadataSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600')
      return metadata
    },
  )
}
