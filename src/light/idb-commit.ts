// One IndexedDB transaction's writes, all or none: awaited together with the transaction's end; a write refused
// part-way (a value it cannot store; a full quota aborts by itself) aborts the rest, and the error is the caller's.
export async function commitAll (tx: { done: Promise<void>, abort: () => void }, writes: Array<Promise<unknown>>): Promise<void> {
  try {
    await Promise.all([...writes, tx.done])
  } catch (err) {
    try { tx.abort() } catch { /* already aborted or done */ }
    await tx.done.catch(() => {})
    throw err
  }
}
