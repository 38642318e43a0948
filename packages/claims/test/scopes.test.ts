import { describe, expect, it } from 'vitest'
import { isScope, parseScope, SCOPES } from '../src/index.ts'

describe('parseScope', () => {
  it('splits on spaces and drops repeats and empty parts', () => {
    expect(parseScope(' notes:read  notes:write notes:read ')).toEqual([
      'notes:read',
      'notes:write',
    ])
  })

  it('reads a missing scope as none', () => {
    expect(parseScope(undefined)).toEqual([])
    expect(parseScope('')).toEqual([])
  })
})

describe('isScope', () => {
  it('knows every published scope and nothing else', () => {
    for (const scope of SCOPES) expect(isScope(scope)).toBe(true)
    expect(isScope('admin')).toBe(false)
  })
})
