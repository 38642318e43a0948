import type { Session } from './session.ts'
import { unrefTimer } from './timers.ts'

/** The part of the Web Locks API (`navigator.locks`) the client uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { signal?: AbortSignal; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>
}

/** The part of `BroadcastChannel` the client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: MessageEvent) => void) | null
}

export type SyncMessage =
  | { type: 'session'; session: Session }
  | { type: 'signed_out'; reason: 'logout' | 'session_expired'; sid?: string }

/**
 * Runs `task` holding the lock `name` (unlocked when `name` is null). `contended`: another holder
 * had the lock first and has just let go, or was waited out; it may have changed the session.
 */
export type RunLocked = <T>(
  name: string | null,
  task: (lock: { contended: boolean }) => Promise<T>,
) => Promise<T>

/**
 * Runs `task` while holding the named Web Lock, waiting at most `timeout` ms for it. A lock that
 * never comes (a frozen tab holding it) must not freeze this tab: after the timeout the task runs
 * unlocked, as `contended` — the holder may be about to finish, so the task listens for its news
 * and re-reads storage first. It then spends the token at most `timeout` + settle + refresh
 * timeout after the holder may have, which the client keeps inside the auth server's grace
 * window: a replayed refresh token gets the same successor there.
 */
export function createLockRunner(locks: LockManagerLike | null, timeout: number): RunLocked {
  return async (name, task) => {
    if (!locks || name === null) return task({ contended: false })
    const uncontended = await locks.request(name, { ifAvailable: true }, async (lock) =>
      lock ? { value: await task({ contended: false }) } : null,
    )
    if (uncontended) return uncontended.value
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeout)
    unrefTimer(timer)
    let granted = false
    try {
      return await locks.request(name, { signal: controller.signal }, () => {
        granted = true
        clearTimeout(timer)
        return task({ contended: true })
      })
    } catch (error) {
      if (!granted && controller.signal.aborted) return task({ contended: true })
      throw error
    } finally {
      clearTimeout(timer)
    }
  }
}

function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false
  const session = value as Record<string, unknown>
  return (
    typeof session.accessToken === 'string' &&
    typeof session.refreshToken === 'string' &&
    typeof session.expiresAt === 'number' &&
    typeof session.receivedAt === 'number'
  )
}

export function parseSyncMessage(data: unknown): SyncMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const message = data as Record<string, unknown>
  if (message.type === 'session' && isSession(message.session)) {
    return { type: 'session', session: message.session }
  }
  if (message.type === 'signed_out') {
    const reason = message.reason === 'session_expired' ? 'session_expired' : 'logout'
    return typeof message.sid === 'string'
      ? { type: 'signed_out', reason, sid: message.sid }
      : { type: 'signed_out', reason }
  }
  return null
}

export function defaultLocks(): LockManagerLike | null {
  const navigator = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator
  return navigator?.locks ?? null
}

export function defaultChannel(name: string): ChannelLike | null {
  if (typeof globalThis.BroadcastChannel !== 'function') return null
  const channel = new globalThis.BroadcastChannel(name)
  // Node keeps a process alive while a channel is open; the session must not do that.
  ;(channel as { unref?: () => void }).unref?.()
  return channel
}
