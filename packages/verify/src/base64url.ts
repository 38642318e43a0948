const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const LOOKUP = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i

/**
 * Strict, unpadded base64url (RFC 7515 §2) to bytes, or `undefined` for anything else: padding,
 * the `+/` alphabet, whitespace or non-canonical trailing bits. Hand-written because `atob` is
 * lenient and `Buffer` is Node-only.
 */
export function decodeBase64Url(
  input: string,
  start = 0,
  end = input.length,
): Uint8Array<ArrayBuffer> | undefined {
  const length = end - start
  const remainder = length & 3
  if (remainder === 1) return undefined
  const out = new Uint8Array((length >> 2) * 3 + (remainder === 0 ? 0 : remainder - 1))
  let bits = 0
  let value = 0
  let o = 0
  for (let i = start; i < end; i++) {
    const code = input.charCodeAt(i)
    const digit = code < 128 ? LOOKUP[code]! : -1
    if (digit === -1) return undefined
    value = (value << 6) | digit
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >> bits) & 0xff
    }
  }
  // Leftover bits must be zero, so that every byte string has exactly one encoding.
  if ((value & ((1 << bits) - 1)) !== 0) return undefined
  return out
}
