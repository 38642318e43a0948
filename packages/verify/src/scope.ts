/**
 * Whether a space-separated RFC 6749 `scope` string grants `scope`. Allocation-free, because it
 * runs on every guarded request.
 *
 * @example
 * hasScope('notes:read notes:write', 'notes:write') // true
 * hasScope('notes:readonly', 'notes:read') // false
 */
export function hasScope(granted: string, scope: string): boolean {
  if (scope.length === 0) return false
  let from = 0
  for (;;) {
    const at = granted.indexOf(scope, from)
    if (at === -1) return false
    const end = at + scope.length
    if (
      (at === 0 || granted.charCodeAt(at - 1) === 32) &&
      (end === granted.length || granted.charCodeAt(end) === 32)
    ) {
      return true
    }
    from = at + 1
  }
}

/** Whether `granted` holds every one of `required`. */
export function hasScopes(granted: string, required: readonly string[]): boolean {
  for (let i = 0; i < required.length; i++) {
    if (!hasScope(granted, required[i]!)) return false
  }
  return true
}
