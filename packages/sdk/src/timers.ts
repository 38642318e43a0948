/**
 * Lets the process exit while `timer` is pending: a refresh, a lock wait or a wait for another
 * tab's news must not keep a Node or Deno program alive (a no-op in browsers).
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) timer.unref()
  else
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(Number(timer))
}
