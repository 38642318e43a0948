import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { loadConfig } from './config.ts'

const config = loadConfig(process.env)
const app = await buildApp(config)

closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })
app.log.info(
  { issuer: config.issuer, audience: config.audience, jwks: config.jwksUrl },
  'verifying access tokens',
)
