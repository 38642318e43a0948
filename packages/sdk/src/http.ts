import ky, { type Input, type KyInstance, type Options, type ResponsePromise } from 'ky'
import { isTesseraError, TesseraError } from './errors.ts'
import { readBody, toTesseraError } from './responses.ts'

export interface TokenSource {
  /** A usable access token, refreshed first when due; rejects with a typed error. */
  getAccessToken(): Promise<string>
  /** Called when a server refused `rejectedToken`: refreshes unless that already happened. */
  recoverFromRejectedToken(rejectedToken: string): Promise<void>
}

const BODY_METHODS = ['json', 'text', 'arrayBuffer', 'blob', 'formData', 'bytes'] as const
const VERB_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head'] as const

async function isInvalidTokenAnswer(response: Response): Promise<boolean> {
  if (response.status !== 401) return false
  const challenge = response.headers.get('www-authenticate')
  if (challenge) return /error\s*=\s*"?invalid_token"?/i.test(challenge)
  // Cross-origin pages cannot read WWW-Authenticate unless the server exposes it; the body says the same.
  const body = await readBody(response)
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { code?: unknown }).code === 'token_not_valid'
  )
}

function bearerOf(request: Request): string {
  return (request.headers.get('authorization') ?? '').replace(/^Bearer\s+/i, '')
}

/** Makes every promise a ky instance returns reject with a `TesseraError`, extensions included. */
function guard(instance: KyInstance, now: () => number): KyInstance {
  // The call's promise and its `.json()` reject with the same HTTPError, whose body reads once.
  const converted = new WeakMap<object, Promise<unknown>>()
  const convert = async (error: unknown): Promise<never> => {
    if (typeof error !== 'object' || error === null) throw await toTesseraError(error, now)
    let conversion = converted.get(error)
    if (!conversion) {
      conversion = toTesseraError(error, now)
      converted.set(error, conversion)
    }
    throw await conversion
  }
  const wrap = <T>(promise: ResponsePromise<T>): ResponsePromise<T> => {
    const guarded = promise.catch(convert) as ResponsePromise<T>
    // Callers that only use `.json()` never await `guarded` itself; its copy of the error is theirs.
    guarded.catch(() => {})
    for (const method of BODY_METHODS) {
      if (typeof promise[method] !== 'function') continue
      const original = promise[method].bind(promise) as () => Promise<unknown>
      ;(guarded as unknown as Record<string, () => Promise<unknown>>)[method] = () =>
        original().catch(convert)
    }
    return guarded
  }
  // ky throws synchronously for a request it cannot build (a leading slash with `prefixUrl`, a
  // URL that does not parse): that too becomes a rejected promise of a typed error.
  const start = <T>(send: () => ResponsePromise<T>): ResponsePromise<T> => {
    try {
      return wrap(send())
    } catch (error) {
      const failure = new TesseraError('invalid_request', 'The request could not be made', {
        cause: error,
      })
      const rejected = Promise.reject(failure) as ResponsePromise<T>
      rejected.catch(() => {})
      for (const method of BODY_METHODS) {
        ;(rejected as unknown as Record<string, () => Promise<never>>)[method] = () =>
          Promise.reject(failure)
      }
      return rejected
    }
  }
  const call = <T>(input: Input, options?: Options) => start(() => instance<T>(input, options))
  const verbs = Object.fromEntries(
    VERB_METHODS.map((verb) => [
      verb,
      <T>(input: Input, options?: Options) => start(() => instance[verb]<T>(input, options)),
    ]),
  )
  return Object.assign(call, verbs, {
    create: (options?: Options) => guard(instance.create(options), now),
    extend: (options: Options | ((parent: Options) => Options)) =>
      guard(instance.extend(options), now),
    stop: instance.stop,
    retry: instance.retry,
  }) as unknown as KyInstance
}

/**
 * The authenticated ky instance: a Bearer token on every request to a trusted origin (refreshed
 * first when due), and on a 401 `invalid_token` from one of them one refresh (shared with every
 * other request that hit it) and one retry, following ky's `afterResponse` recipe. Requests to
 * any other origin go out as they are, and their 401s are theirs. Everything it rejects with is
 * a `TesseraError`.
 */
export function createAuthenticatedHttp(
  tokens: TokenSource,
  fetch: typeof globalThis.fetch,
  now: () => number,
  trusted: (url: string) => boolean,
): KyInstance {
  // One refresh-and-retry per request: ky keeps one `context` object for all attempts of a call.
  const retried = new WeakSet<object>()
  const instance = ky.create({
    fetch,
    retry: {
      // Our own errors (not signed in, session expired) are answers, not glitches to retry.
      shouldRetry: ({ error }) => (isTesseraError(error) ? false : undefined),
    },
    hooks: {
      beforeRequest: [
        async (request) => {
          if (!trusted(request.url)) return
          request.headers.set('authorization', `Bearer ${await tokens.getAccessToken()}`)
        },
      ],
      beforeRetry: [
        ({ error }) => {
          if (isTesseraError(error)) throw error
        },
      ],
      afterResponse: [
        async (request, options, response, state) => {
          if (retried.has(options.context) || state.retryCount >= (options.retry.limit ?? 0)) return
          if (!trusted(request.url) || !(await isInvalidTokenAnswer(response))) return
          retried.add(options.context)
          await tokens.recoverFromRejectedToken(bearerOf(request))
          // beforeRequest sets the new token on the retried request.
          return ky.retry({ delay: 0, code: 'TOKEN_REFRESHED' })
        },
      ],
    },
  })
  return guard(instance, now)
}
