/**
 * Where the session lives. Methods may be sync or async, so cookies, files, IndexedDB or React
 * Native's AsyncStorage fit behind the same three calls.
 *
 * Set `shared: true` when other tabs or processes see the same data (localStorage, a cookie):
 * the client then coordinates refreshes across them (Web Locks, BroadcastChannel).
 *
 * @example
 * const fileStorage: StorageAdapter = {
 *   getItem: (key) => readFile(`${dir}/${key}`, 'utf8').catch(() => null),
 *   setItem: (key, value) => writeFile(`${dir}/${key}`, value),
 *   removeItem: (key) => rm(`${dir}/${key}`, { force: true }),
 * }
 */
export interface StorageAdapter {
  getItem(key: string): string | null | Promise<string | null>
  setItem(key: string, value: string): void | Promise<void>
  removeItem(key: string): void | Promise<void>
  readonly shared?: boolean
}

/**
 * The default: the session lives as long as the client object.
 *
 * @example
 * const client = createClient({ authUrl, storage: createMemoryStorage() })
 */
export function createMemoryStorage(): StorageAdapter {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value)
    },
    removeItem: (key) => {
      items.delete(key)
    },
  }
}

/**
 * The part of the Web Storage API (`localStorage`, `sessionStorage`) the SDK uses. Declared here
 * so that the published types need no DOM library: a Node program compiles against them too.
 */
export interface WebStorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * Adapts a Web Storage object. `localStorage` is shared by every tab of an origin;
 * `sessionStorage` belongs to one tab.
 *
 * @example
 * const client = createClient({ authUrl, storage: createWebStorage(localStorage, { shared: true }) })
 */
export function createWebStorage(
  storage: WebStorageLike,
  options: { shared?: boolean } = {},
): StorageAdapter {
  return {
    getItem: (key) => storage.getItem(key),
    setItem: (key, value) => storage.setItem(key, value),
    removeItem: (key) => storage.removeItem(key),
    shared: options.shared ?? false,
  }
}

/**
 * `localStorage`, shared across tabs: refreshes are coordinated between them.
 *
 * @example
 * const client = createClient({ authUrl: '/', storage: createLocalStorage() })
 */
export function createLocalStorage(): StorageAdapter {
  return createWebStorage((globalThis as { localStorage: WebStorageLike }).localStorage, {
    shared: true,
  })
}

/**
 * `sessionStorage`: one session per tab, kept across reloads of that tab. A duplicated tab
 * starts with a copy of it; the two then coordinate their refreshes by the session's id.
 *
 * @example
 * const client = createClient({ authUrl: '/', storage: createSessionStorage() })
 */
export function createSessionStorage(): StorageAdapter {
  return createWebStorage((globalThis as { sessionStorage: WebStorageLike }).sessionStorage, {
    shared: false,
  })
}
