import type { User } from '@tessera/db'
import { ApiError } from '../errors.ts'
import type { SessionRepository } from '../repositories/sessions.ts'
import type { UserRepository } from '../repositories/users.ts'
import type { PasswordHasher } from './passwords.ts'

export class UsernameTakenError extends ApiError {
  override name = 'UsernameTakenError'

  constructor() {
    super(409, 'username_taken', 'A user with that username already exists.', {
      fields: { username: ['A user with that username already exists.'] },
    })
  }
}

export interface AccountService {
  register(input: { username: string; password: string; email?: string | undefined }): Promise<User>
  /** Sets a new password and ends every session of the account. */
  changePassword(userId: number, password: string): Promise<number>
  /** Disabling an account ends every session of it. */
  setActive(userId: number, isActive: boolean): Promise<number>
  findByUsername(username: string): Promise<User | undefined>
  findById(userId: number): Promise<User | undefined>
}

export function createAccountService(options: {
  users: UserRepository
  sessions: SessionRepository
  passwords: PasswordHasher
  clock: () => number
}): AccountService {
  const { users, sessions, passwords, clock } = options
  return {
    async register({ username, password, email }) {
      const passwordHash = await passwords.hash(password)
      const user = await users.insert({ username, passwordHash, email: email ?? null })
      if (!user) throw new UsernameTakenError()
      return user
    },
    async changePassword(userId, password) {
      const now = new Date(clock())
      await users.setPassword(userId, await passwords.hash(password), now)
      return sessions.revokeAllForUser(userId, 'password_changed', now)
    },
    async setActive(userId, isActive) {
      await users.setActive(userId, isActive)
      if (isActive) return 0
      return sessions.revokeAllForUser(userId, 'account_disabled', new Date(clock()))
    },
    findByUsername: (username) => users.findByUsername(username),
    findById: (userId) => users.findById(userId),
  }
}
