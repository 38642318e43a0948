import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

const PREFIX = 'enc:v1:'

/**
 * Encryption at rest for private keys and server secrets (AES-256-GCM, key = SHA-256 of the
 * configured secret). Without a secret, values pass through unchanged, and a value that was
 * stored encrypted cannot be opened: that is reported, not guessed around.
 */
export interface SecretBox {
  /** A key-encryption secret is configured: `seal` encrypts. */
  readonly enabled: boolean
  seal(plaintext: string): string
  open(stored: string): string
  isSealed(stored: string): boolean
}

export class SecretBoxError extends Error {
  override name = 'SecretBoxError'
  readonly code = 'KEY_DECRYPTION_FAILED'
}

export function createSecretBox(secret: string | undefined): SecretBox {
  const key = secret ? createHash('sha256').update(secret).digest() : undefined
  return {
    enabled: key !== undefined,
    isSealed: (stored) => stored.startsWith(PREFIX),
    seal(plaintext) {
      if (!key) return plaintext
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return `${PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored
      if (!key) {
        throw new SecretBoxError('A stored key is encrypted but KEY_ENCRYPTION_SECRET is not set')
      }
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch (cause) {
        throw new SecretBoxError('A stored key does not open with KEY_ENCRYPTION_SECRET', {
          cause,
        })
      }
    },
  }
}
