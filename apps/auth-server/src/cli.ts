import { createInterface } from 'node:readline'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, RegisterRequestSchema } from '@tessera/claims'
import { Compile } from 'typebox/compile'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

const USAGE = `Usage: pnpm --filter @tessera/auth-server cli <command>

Commands:
  createuser <username> [--email <email>]   create an account (password from a prompt, or stdin)
  changepassword <username>                 set a new password and end every session
  disableuser <username>                    disable an account and end every session
  prunesessions [--days N]                  delete sessions that ended over N days ago (default 7)
  keys list                                 list signing keys and their states
  keys rotate                               standby -> current, current -> retired, new standby
  keys revoke <kid>                         unpublish a retired or standby key at once

Reads the same environment as the server (DATABASE_URL, DATA_DIR, ...). With the embedded
database, stop \`pnpm dev\` first: one process at a time may open a PGlite data directory.`

/** Reads a password: hidden prompt on a terminal, first line of stdin when piped. */
async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    let input = ''
    for await (const chunk of process.stdin) input += chunk
    return input.split(/\r?\n/)[0] ?? ''
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  const output = rl as unknown as { _writeToOutput: (s: string) => void }
  process.stdout.write(prompt)
  output._writeToOutput = () => {}
  const answer = await new Promise<string>((resolve) => rl.question('', resolve))
  rl.close()
  process.stdout.write('\n')
  return answer
}

async function askNewPassword(): Promise<string> {
  const password = await readPassword('Password: ')
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new CliError(
      `The password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`,
    )
  }
  if (process.stdin.isTTY && (await readPassword('Password (again): ')) !== password) {
    throw new CliError('The passwords do not match.')
  }
  return password
}

class CliError extends Error {
  override name = 'CliError'
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE)
    return
  }
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' })
  const app = await buildApp(config)
  try {
    switch (command) {
      case 'createuser': {
        const username = rest[0]
        if (!username) throw new CliError('createuser needs a username.')
        const emailAt = rest.indexOf('--email')
        const email = emailAt >= 0 ? rest[emailAt + 1] : undefined
        const password = await askNewPassword()
        const input = { username, password, ...(email ? { email } : {}) }
        const problems = [...Compile(RegisterRequestSchema).Errors(input)]
        if (problems.length > 0) {
          const fields = problems.map((p) => p.instancePath.slice(1) || 'input').join(', ')
          throw new CliError(`Invalid ${fields}: usernames take letters, digits and @/./+/-/_.`)
        }
        const user = await app.accounts.register({ username, password, email })
        console.log(`Created user ${user.username} (id ${user.id}).`)
        return
      }
      case 'changepassword':
      case 'disableuser': {
        const user = rest[0] ? await app.accounts.findByUsername(rest[0]) : undefined
        if (!user) throw new CliError(`No user named ${rest[0] ?? '(none given)'}.`)
        const ended =
          command === 'changepassword'
            ? await app.accounts.changePassword(user.id, await askNewPassword())
            : await app.accounts.setActive(user.id, false)
        console.log(
          `${command === 'changepassword' ? 'Password changed' : 'User disabled'}; ${ended} session(s) ended.`,
        )
        return
      }
      case 'prunesessions': {
        const daysAt = rest.indexOf('--days')
        const days = daysAt >= 0 ? Number(rest[daysAt + 1]) : 7
        if (!Number.isInteger(days) || days < 0) throw new CliError('--days takes a whole number.')
        const deleted = await app.sessions.prune(days * 86_400)
        console.log(`Deleted ${deleted} session(s) that ended over ${days} day(s) ago.`)
        return
      }
      case 'keys': {
        const [action, kid] = rest
        if (action === 'rotate') {
          const { current, standby } = await app.keys.rotate()
          console.log(`Rotated. current: ${current}  standby: ${standby}`)
        } else if (action === 'revoke' && kid) {
          await app.keys.revoke(kid)
          console.log(`Revoked ${kid}: it is no longer published.`)
        } else if (action === 'list') {
          console.table(
            (await app.keys.list()).map((k) => ({
              kid: k.kid,
              alg: k.alg,
              state: k.state,
              created: k.createdAt.toISOString(),
            })),
          )
        } else {
          throw new CliError('keys needs list, rotate or revoke <kid>.')
        }
        return
      }
      default:
        throw new CliError(`Unknown command ${command}.\n\n${USAGE}`)
    }
  } finally {
    await app.close()
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliError || error instanceof ConfigError) console.error(error.message)
  else if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    console.error(`${error.message} (${error.code})`)
  } else console.error(error)
  process.exitCode = 1
})
