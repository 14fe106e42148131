// Figures in the views: an amount (or a price) in a unit that fits, the exact value in its title (hover, or a
// long press on a phone) and in data attributes for tools and tests.
import { filFigure, perGiB, perGiBMonth, dealPerGiBMonth } from './format'

export function Fil ({ atto, testId }: { atto: bigint | string, testId?: string }): React.JSX.Element {
  const f = filFigure(atto)
  return <span className="figure" title={f.full} data-atto={atto.toString()} {...(testId === undefined ? {} : { 'data-testid': testId })}>{f.text}</span>
}

/** An ask's storage price (attoFIL per GiB per epoch) per GiB per month; the title says which epoch length the month used. */
export function StoragePrice ({ attoPerGiBEpoch, epochSeconds }: { attoPerGiBEpoch: string, epochSeconds?: number | null }): React.JSX.Element {
  const p = perGiBMonth(attoPerGiBEpoch, epochSeconds)
  return <span className="figure" title={p.full} data-atto-gib-epoch={attoPerGiBEpoch} data-epoch-seconds={p.epochSeconds}>{p.text}</span>
}

/** A deal's price (attoFIL per epoch for its piece) per GiB per month. */
export function DealPrice ({ attoPerEpoch, pieceBytes, epochSeconds }: { attoPerEpoch: string, pieceBytes: number, epochSeconds?: number | null }): React.JSX.Element {
  const p = dealPerGiBMonth(attoPerEpoch, pieceBytes, epochSeconds)
  return <span className="figure" title={`${p.full} (${filFigure(attoPerEpoch).full} per epoch for the ${pieceBytes.toLocaleString('en-US')}-byte piece)`} data-atto-epoch={attoPerEpoch}>{p.text}</span>
}

/** A retrieval price (attoFIL per GiB sent). */
export function RetrievalPrice ({ attoPerGiB }: { attoPerGiB: string }): React.JSX.Element {
  const p = perGiB(attoPerGiB)
  return <span className="figure" title={p.full} data-atto-gib={attoPerGiB}>{p.text}</span>
}
