/** Every scope a Tessera token can carry. Resource servers guard routes with these. */
export const SCOPES = ['notes:read', 'notes:write'] as const
export type Scope = (typeof SCOPES)[number]

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}

/** Splits an RFC 6749 `scope` string (space-separated, order and repeats ignored). */
export function parseScope(scope: string | undefined): string[] {
  if (!scope) return []
  return [...new Set(scope.split(' ').filter(Boolean))]
}
