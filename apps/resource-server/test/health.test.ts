import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestResourceServer, type TestResourceServer } from './helpers.ts'

let t: TestResourceServer

beforeAll(async () => {
  t = await createTestResourceServer()
})
afterAll(async () => {
  await t.close()
})

describe('GET /health/live', () => {
  it('answers ok without a token', async () => {
    const response = await t.app.inject({ url: '/health/live' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })
})

describe('GET /health/ready', () => {
  it('answers ok while the database answers', async () => {
    const response = await t.app.inject({ url: '/health/ready' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', checks: { database: 'ok' } })
  })

  it('answers 503 without internals when the database is gone', async () => {
    const doomed = await createTestResourceServer()
    try {
      await doomed.database.close()
      const response = await doomed.app.inject({ url: '/health/ready' })
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({
        status: 'unavailable',
        checks: { database: 'unreachable' },
      })
    } finally {
      await doomed.app.close()
    }
  })
})
