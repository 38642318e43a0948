// Run by test/deno.test.ts with the Deno binary of the `deno` npm package: the built SDK,
// imported as a Deno program would, logs in against a real auth server.
// biome-ignore lint/correctness/useImportExtensions: the published build, as a Deno program imports it
import { createClient, isTesseraError } from '../../dist/index.mjs'

const [authUrl, username, password] = Deno.args
if (!authUrl || !username || !password)
  throw new Error('usage: smoke.ts AUTH_URL USERNAME PASSWORD')

const client = createClient({ authUrl })
try {
  const wrong = await client.login({ username, password: `${password}!` }).catch((error) => error)
  const session = await client.login({ username, password })
  const me = await client.me()
  const claims = await client.getClaims()
  console.log(
    JSON.stringify({
      wrongPassword: isTesseraError(wrong) ? wrong.code : String(wrong),
      signedIn: session.tokenType,
      username: me.username,
      sub: claims?.sub === me.id,
    }),
  )
} finally {
  client.dispose()
}
