// Run by test/deno.test.ts with the Deno binary of the `deno` npm package: the built SDK,
// imported as a Deno program would, logs in against a real auth server and outlives its first
// access token (the test servers issue them for a few seconds), so a refresh happens in Deno.
// biome-ignore lint/correctness/useImportExtensions: the published build, as a Deno program imports it
import { createClient, isTesseraError } from '../../dist/index.mjs'

const [authUrl, username, password, lifetimeMs] = Deno.args
if (!authUrl || !username || !password || !lifetimeMs)
  throw new Error('usage: smoke.ts AUTH_URL USERNAME PASSWORD ACCESS_TOKEN_LIFETIME_MS')

const client = createClient({ authUrl })
const events: string[] = []
client.onAuthChange((event) => events.push(event.type))
try {
  const wrong = await client.login({ username, password: `${password}!` }).catch((error) => error)
  const session = await client.login({ username, password })
  const me = await client.me()
  const claims = await client.getClaims()
  // The refresh timer is unref'd in Deno too; this wait is what keeps the program running.
  await new Promise((resolve) => setTimeout(resolve, Number(lifetimeMs) + 300))
  const later = await client.me()
  const now = await client.getSession()
  console.log(
    JSON.stringify({
      wrongPassword: isTesseraError(wrong) ? wrong.code : String(wrong),
      signedIn: session.tokenType,
      username: me.username,
      sub: claims?.sub === me.id,
      refreshed: events.includes('refreshed'),
      signedOut: events.includes('signed_out'),
      rotated: now !== null && now.refreshToken !== session.refreshToken,
      sameSession: later.session_id === me.session_id,
    }),
  )
} finally {
  client.dispose()
}
