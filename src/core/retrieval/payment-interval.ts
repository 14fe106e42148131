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

/** The leaf size of the DAGs Coffer packs (ipfs-unixfs-importer's default chunker, raw leaves). */
const LEAF_BYTES = 256 * 1024
/**
 * A CAR's bytes beyond its file's, per leaf, at most: each 256 KiB leaf costs ~51 bytes of link in the node above it
 * and ~39 of section header (CID and length) in the CAR; measured 89.7–90.2 on 64 and 300 MiB files, 115 on 1 MiB.
 */
const CAR_BYTES_PER_LEAF = 128
/** The CAR's header and the root's few bytes more, whatever the file's size. */
const CAR_FIXED_BYTES = 4096

/**
 * The bytes to fund a retrieval's lane for when `quoteBytes` was quoted: a little more than the quote. A quote may be
 * the file's size alone (a share link without the CAR's), while the vouchers pay for every block byte sent, the
 * DAG's nodes too (and on a resume the nodes walked again); a lane funded for the quote exactly ran short at the
 * last vouchers, and the top-up they waited for held the provider for a block or two at the end of every whole-file
 * download (retrieval-browser bench, 256 MiB: 2.2 s of its 12). One payment interval more covers rounding. Funds
 * no voucher uses come back when the channel is collected.
 */
export function laneFundingBytes (quoteBytes: number, paymentInterval: number): number {
  return quoteBytes + Math.ceil(quoteBytes / LEAF_BYTES) * CAR_BYTES_PER_LEAF + CAR_FIXED_BYTES + paymentInterval
}
