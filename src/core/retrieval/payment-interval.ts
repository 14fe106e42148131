// The retrieval payment schedule both sides follow, as go-fil-markets' `Params.NextInterval` defines it: the
// intervals run PaymentInterval, then each PaymentIntervalIncrease longer than the one before, and which
// interval a stream is in is decided by the bytes *paid for*, never by how many vouchers arrived (a client
// sending many tiny vouchers would otherwise grow its credit without paying for it).

/** The end of the interval that `paidBytes` falls in: the provider sends up to it before it needs more pay. */
export function nextIntervalEnd (paidBytes: number, paymentInterval: number, paymentIntervalIncrease: number): number {
  if (!(paymentInterval > 0)) throw new RangeError('paymentInterval must be positive')
  let size = paymentInterval
  let end = 0
  for (;;) {
    end += size
    if (end > paidBytes) return end
    size += paymentIntervalIncrease
  }
}

/** The size of the interval `paidBytes` falls in: the most a provider has at risk while the client is in it. */
export function intervalSizeAt (paidBytes: number, paymentInterval: number, paymentIntervalIncrease: number): number {
  // closed form of the loop above would need a square root over safe integers; intervals are few (a 1 TiB file
  // at 1 MiB + 1 MiB is ~1,450 of them), so the loop is cheap and obviously right
  let size = paymentInterval
  let end = 0
  for (;;) {
    end += size
    if (end > paidBytes) return size
    size += paymentIntervalIncrease
  }
}
