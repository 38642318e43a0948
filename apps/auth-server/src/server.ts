import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

try {
  const config = loadConfig(process.env)
  const app = await buildApp(config)
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })
  await app.listen({ port: config.port, host: config.host })
  app.log.info(
    { issuer: config.issuer, audience: config.audience, database: app.database.kind },
    `Tessera auth server ready: ${config.issuer} (JWKS at ${config.issuer}/.well-known/jwks.json)`,
  )
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message)
  } else {
    console.error('Tessera auth server failed to start:', error)
  }
  process.exit(1)
}
