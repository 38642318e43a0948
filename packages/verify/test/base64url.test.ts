import { describe, expect, it } from 'vitest'
import { decodeBase64Url } from '../src/base64url.ts'

describe('decodeBase64Url', () => {
  it('decodes what Node encodes, for every length', () => {
    for (let length = 0; length < 70; length++) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 37 + length) & 0xff)
      const encoded = Buffer.from(bytes).toString('base64url')
      expect(decodeBase64Url(encoded)).toEqual(bytes)
    }
  })

  it('decodes a slice of a string', () => {
    expect(decodeBase64Url('xx.aGk.yy', 3, 6)).toEqual(new TextEncoder().encode('hi'))
  })

  it.each([
    ['padding', 'aGk='],
    ['the standard alphabet', 'a+/k'],
    ['whitespace', 'aG k'],
    ['an impossible length', 'aGkhx'],
    ['non-zero trailing bits', 'aGl'],
    ['non-ASCII', 'aGké'],
  ])('refuses %s', (_name, input) => {
    expect(decodeBase64Url(input)).toBeUndefined()
  })
})
