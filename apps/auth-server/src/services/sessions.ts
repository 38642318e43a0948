import { parseScope } from '@tessera/claims'
import type { Session, User } from '@tessera/db'
import { ApiError, InvalidCredentialsError, InvalidTokenError } from '../errors.ts'
import type { SessionRepository } from '../repositories/sessions.ts'
import type { UserRepository } from '../repositories/users.ts'
import type { PasswordHasher } from './passwords.ts'
import type { MintedAccessToken, TokenService } from './tokens.ts'

export interface SessionServiceOptions {
  users: UserRepository
  sessions: SessionRepository
  passwords: PasswordHasher
  tokens: TokenService
  refreshTokenLifetimeSeconds: number
  sessionMaxLifetimeSeconds: number
  refreshReuseGraceSeconds: number
  clock: () => number
  /** Told about a reused refresh token (the session is ended): for audit logs. */
  onReuse?: (session: Session) => void
}

export interface IssuedTokens {
  access: MintedAccessToken
  refresh: string
  session: Session
}

export interface ClientInfo {
  userAgent?: string | undefined
  ip?: string | undefined
}

export interface SessionService {
  /** Username + password → a new session; one error for every way credentials can be wrong. */
  login(
    username: string,
    password: string,
    scope: string | undefined,
    client: ClientInfo,
  ): Promise<IssuedTokens>
  /**
   * Rotation with reuse detection (see DESIGN.md, "Refresh tokens"). A `scope` narrows the new
   * access token; one the session does not hold is refused before anything rotates.
   */
  refresh(refreshToken: string, scope?: string): Promise<IssuedTokens>
  /**
   * Ends the session of the refresh token in force (simplejwt's blacklist). A token of an ended
   * session is refused; a rotated-away one is reuse: it ends the session and is refused too.
   */
  logout(refreshToken: string): Promise<void>
  /** Throws unless the refresh token is the one in force for a live session. */
  checkRefresh(refreshToken: string): Promise<void>
  listLive(userId: number): Promise<Session[]>
  /** Deletes sessions that ended more than `olderThanSeconds` ago; returns how many. */
  prune(olderThanSeconds: number): Promise<number>
  /** Ends one of the user's sessions; `false` when there was no such live session. */
  endOne(userId: number, sessionId: string): Promise<boolean>
  /** Ends every live session of the user, but `exceptId`; returns how many. */
  endAll(userId: number, exceptId?: string): Promise<number>
  /** A live session, for routes that accept an access token. */
  findLive(sessionId: string): Promise<Session | undefined>
}

export class InvalidScopeError extends ApiError {
  override name = 'InvalidScopeError'

  constructor(scopes: string[]) {
    super(400, 'invalid', `Scope not allowed: ${scopes.join(' ')}`, {
      fields: { scope: [`Not allowed for this account: ${scopes.join(' ')}`] },
    })
  }
}

export function createSessionService(options: SessionServiceOptions): SessionService {
  const { users, sessions, passwords, tokens, clock } = options
  const seconds = (s: number) => s * 1000

  function issue(session: Session, scope?: string): IssuedTokens {
    return {
      access: tokens.mintAccess(scope ? { ...session, scope } : session),
      refresh: tokens.mintRefresh(session),
      session,
    }
  }

  /** The previous token, presented again within the grace window (0 turns the window off). */
  function inGrace(session: Session, counter: number, now: number): boolean {
    const grace = seconds(options.refreshReuseGraceSeconds)
    return (
      grace > 0 && session.counter === counter + 1 && now - session.rotatedAt.getTime() <= grace
    )
  }

  async function endForReuse(session: Session, now: number): Promise<void> {
    // A token that was already rotated away came back: someone holds a copy. End it all.
    if (await sessions.revoke(session.id, 'refresh_token_reuse', new Date(now))) {
      options.onReuse?.(session)
    }
  }

  function isLive(session: Session, now: number): boolean {
    return (
      session.revokedAt === null &&
      session.expiresAt.getTime() > now &&
      session.idleExpiresAt.getTime() > now
    )
  }

  return {
    async login(username, password, scope, client) {
      const user = await users.findByUsername(username)
      const usable = user?.isActive ? user : undefined
      const check = await passwords.verify(usable?.passwordHash ?? null, password)
      if (!usable || !check.ok) throw new InvalidCredentialsError()
      const granted = grantScope(usable, scope)
      const now = new Date(clock())
      const session = await sessions.insert({
        userId: usable.id,
        counter: 0,
        rotatedAt: now,
        scope: granted,
        userAgent: client.userAgent?.slice(0, 512) ?? null,
        ip: client.ip ?? null,
        lastUsedAt: now,
        idleExpiresAt: new Date(now.getTime() + seconds(options.refreshTokenLifetimeSeconds)),
        expiresAt: new Date(now.getTime() + seconds(options.sessionMaxLifetimeSeconds)),
      })
      const rehash = check.needsRehash ? await passwords.hash(password) : undefined
      await users.recordLogin(usable.id, now, rehash)
      return issue(session)
    },

    async refresh(refreshToken, scope) {
      const claims = tokens.verifyRefresh(refreshToken)
      const asked = parseScope(scope)
      if (asked.length > 0) {
        const held = parseScope((await sessions.findById(claims.sid))?.scope)
        const refused = asked.filter((s) => !held.includes(s))
        if (refused.length > 0) throw new InvalidScopeError(refused)
      }
      const narrowed = asked.length > 0 ? asked.join(' ') : undefined
      const now = clock()
      const idleExpiresAt = new Date(now + seconds(options.refreshTokenLifetimeSeconds))
      const advanced = await sessions.advance(claims.sid, claims.ctr, new Date(now), idleExpiresAt)
      if (advanced) {
        if (String(advanced.userId) !== claims.sub) throw new InvalidTokenError()
        return issue(advanced, narrowed)
      }
      const session = await sessions.findById(claims.sid)
      if (!session || String(session.userId) !== claims.sub || !isLive(session, now)) {
        throw new InvalidTokenError()
      }
      if (inGrace(session, claims.ctr, now)) return issue(session, narrowed)
      if (session.counter > claims.ctr) await endForReuse(session, now)
      throw new InvalidTokenError()
    },

    async logout(refreshToken) {
      const claims = tokens.verifyRefresh(refreshToken)
      const session = await sessions.findById(claims.sid)
      const now = clock()
      if (!session || String(session.userId) !== claims.sub || !isLive(session, now)) {
        throw new InvalidTokenError('Token is blacklisted')
      }
      if (session.counter === claims.ctr || inGrace(session, claims.ctr, now)) {
        await sessions.revoke(session.id, 'logout', new Date(now))
        return
      }
      await endForReuse(session, now)
      throw new InvalidTokenError()
    },

    async checkRefresh(refreshToken) {
      const claims = tokens.verifyRefresh(refreshToken)
      const session = await sessions.findById(claims.sid)
      if (
        !session ||
        !isLive(session, clock()) ||
        String(session.userId) !== claims.sub ||
        session.counter !== claims.ctr
      ) {
        throw new InvalidTokenError()
      }
    },

    listLive: (userId) => sessions.listLive(userId, new Date(clock())),
    prune: (olderThanSeconds) =>
      sessions.deleteEndedBefore(new Date(clock() - seconds(olderThanSeconds))),
    endOne: (userId, sessionId) => sessions.revoke(sessionId, 'logout', new Date(clock()), userId),
    endAll: (userId, exceptId) =>
      sessions.revokeAllForUser(
        userId,
        exceptId ? 'logout_others' : 'logout_all',
        new Date(clock()),
        exceptId,
      ),

    async findLive(sessionId) {
      const session = await sessions.findById(sessionId)
      return session && isLive(session, clock()) ? session : undefined
    },
  }
}

function grantScope(user: User, requested: string | undefined): string {
  const asked = parseScope(requested)
  if (asked.length === 0) return user.scopes.join(' ')
  const refused = asked.filter((s) => !user.scopes.includes(s))
  if (refused.length > 0) throw new InvalidScopeError(refused)
  return asked.join(' ')
}
