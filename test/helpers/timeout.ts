/** Rejects with `timeout: <what>` when `p` has not settled within `ms`; clears its timer either way. */
export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<T>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timeout: ${what}`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}
