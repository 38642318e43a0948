import { describe, expect, it } from 'vitest'
import { hasScope, hasScopes } from '../src/index.ts'

describe('hasScope', () => {
  it.each([
    ['notes:read', 'notes:read', true],
    ['notes:read notes:write', 'notes:write', true],
    ['notes:write notes:read', 'notes:read', true],
    ['a notes:read b', 'notes:read', true],
    ['', 'notes:read', false],
    ['notes:readonly', 'notes:read', false],
    ['xnotes:read', 'notes:read', false],
    ['notes:readonly notes:read', 'notes:read', true],
    ['notes:read', '', false],
  ])('%j grants %j: %s', (granted, scope, expected) => {
    expect(hasScope(granted, scope)).toBe(expected)
  })

  it('demands every scope with hasScopes', () => {
    expect(hasScopes('notes:read notes:write', ['notes:read', 'notes:write'])).toBe(true)
    expect(hasScopes('notes:read', ['notes:read', 'notes:write'])).toBe(false)
  })
})
