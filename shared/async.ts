// Concurrency helpers that never leave work running in the background after a failure.

/** Waits for every promise to settle, then throws the first rejection (Promise.all would return at the
 *  first failure while the others go on unobserved — after a function has already answered). */
export async function settleAll<T>(promises: Iterable<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
