// A proof drawn as trees (SVG): for each challenged leaf, how the challenge was drawn, where the leaf sits in
// the user's file, and the piece's Merkle path from the leaf to the root with each level's sibling and this
// tab's verdict on each step (re-hashed in the WASM verifier). The rest of the tree is elided, not drawn.
import { useState } from 'react'
import type { ProofDetail, ChallengeDetail, ProofStep } from '../light/deal-views'
import type { LeafPart } from '../core/piece/car-layout'

const short = (h: string, head = 6, tail = 4): string => h.length <= head + tail + 1 ? h : `${h.slice(0, head)}…${h.slice(-tail)}`
const bytes = (n: number): string => n.toLocaleString('en-US')

/** What the user tapped last: its full value, shown selectable below the drawing (a title is hover-only). */
interface Picked { what: string, value: string }

export function ProofTree ({ detail }: { detail: ProofDetail }): React.JSX.Element {
  const [picked, setPicked] = useState<Picked | null>(null)
  return (
    <div className="card proof-tree" data-testid="proof-detail">
      <div className="label">Period {detail.period}: {detail.challenges.length} challenged leaves</div>
      <div className="small" data-testid="proof-verdict">{detail.verdict === null
        ? 'Not checked here yet.'
        : detail.verdict.ok ? `✓ All paths verified in this tab's WASM verifier (${detail.verdict.checkMs.toFixed(1)} ms).` : `✗ ${detail.verdict.error ?? 'failed'}`}
      </div>
      {detail.challenges.map((c, i) => <Challenge key={i} detail={detail} c={c} pick={setPicked} />)}
      {picked !== null && (
        <div className="picked" data-testid="picked-value" role="status">
          <span className="muted small">{picked.what}</span>
          <code className="mono">{picked.value}</code>
        </div>
      )}
    </div>
  )
}

function Challenge ({ detail, c, pick }: { detail: ProofDetail, c: ChallengeDetail, pick: (p: Picked) => void }): React.JSX.Element {
  return (
    <section className="challenge" data-testid="merkle-path" aria-label={`Challenge ${c.draw.index}: leaf ${c.leaf}`}>
      <div className="row"><strong>Leaf {bytes(c.leaf)}</strong><span className={c.ok ? 'verified small' : 'bad small'}>{c.ok ? '✓ path reaches the piece root' : '✗ path does not reach the piece root'}</span></div>
      <Derivation detail={detail} c={c} />
      <Placement detail={detail} c={c} />
      <PathSvg c={c} pick={pick} />
      {!c.ok && c.breakAt !== null && (
        <div className="small bad" data-testid="path-break">{c.breakAt.highestOk + 1 === c.breakAt.lowestBad
          ? `The path breaks at level ${c.breakAt.lowestBad} → ${c.breakAt.lowestBad + 1}: below it the nodes match values known here, from there up they do not.`
          : `The path breaks between levels ${c.breakAt.highestOk + 1} and ${c.breakAt.lowestBad + 1}: no value known here pins the level closer (the root only says the path fails).`}
        </div>
      )}
    </section>
  )
}

/** beacon entry (round, in a verified header) → seed → sha256(seed ‖ i) → mod leaves → leaf, with the actual values (core/pdp/challenges.ts, core/market/randomness.ts). */
function Derivation ({ detail, c }: { detail: ProofDetail, c: ChallengeDetail }): React.JSX.Element {
  const matches = c.draw.derived === c.leaf
  return (
    <ol className="derivation small" data-testid="challenge-derivation">
      <li>Beacon round {detail.beaconRound} <span className="mono" title={detail.beaconData}>{short(detail.beaconData)}</span> for epoch {detail.challengeEpoch}, in header <span className="mono" title={detail.headerCid}>{short(detail.headerCid, 8, 6)}</span></li>
      <li>seed = blake2b-256(tag {detail.tag} ‖ blake2b-256(beacon entry) ‖ epoch ‖ deal {detail.dealId}) = <span className="mono" title={detail.seed}>{short(detail.seed)}</span></li>
      <li>draw {c.draw.index}: sha256(seed ‖ {c.draw.index}) = <span className="mono" title={c.draw.hash}>{short(c.draw.hash)}</span></li>
      <li>mod {bytes(c.draw.leaves)} leaves = <strong>leaf {bytes(c.draw.derived)}</strong> {matches ? <span className="verified">✓ the leaf answered</span> : <span className="bad">✗ the proof answers leaf {bytes(c.leaf)}</span>}</li>
    </ol>
  )
}

function partText (p: LeafPart): string {
  switch (p.kind) {
    case 'file': return `file bytes ${bytes(p.fileStart)}–${bytes(p.fileEnd - 1)} (block ${p.block}, raw leaf)`
    case 'framing': return `CAR framing of block ${p.block} (length varint and CID${p.cid === undefined ? '' : ` ${short(p.cid, 8, 6)}`})`
    case 'header': return 'the CAR header (version and root CID)'
    case 'node': return `UnixFS DAG node, block ${p.block} (${short(p.cid, 8, 6)}): links to file blocks, no file bytes`
    case 'padding': return 'zero padding after the CAR'
  }
}

/** Where the leaf sits: padded offset → FR32 payload (CAR) bytes → what the CAR holds there, and a bar of the piece. */
function Placement ({ detail, c }: { detail: ProofDetail, c: ChallengeDetail }): React.JSX.Element {
  const pieceBytes = c.draw.leaves * 32
  const paddedCar = detail.carBytes === null ? null : Math.ceil(detail.carBytes / 127) * 128
  const at = (x: number): number => Math.max(0, Math.min(300, x / pieceBytes * 300))
  const place = c.place
  // without a layout, the CAR's size still tells padding from payload
  const payloadStart = Math.floor(c.leaf / 4) * 127 + Math.floor(254 * (c.leaf % 4) / 8)
  return (
    <div className="placement small" data-testid="leaf-place">
      <svg viewBox="0 0 300 16" className="piece-bar" role="img" aria-label={`leaf ${c.leaf} at padded byte ${c.leaf * 32} of ${pieceBytes}`}>
        <title>{`The piece: ${bytes(pieceBytes)} padded bytes; the CAR fills ${paddedCar === null ? '?' : bytes(paddedCar)} of them, zeros the rest`}</title>
        <rect x="0" y="4" width="300" height="8" className="bar-padding" />
        {paddedCar !== null && <rect x="0" y="4" width={Math.max(1, at(paddedCar))} height="8" className="bar-car" />}
        <rect x={Math.min(298, at(c.leaf * 32))} y="0" width="2" height="16" className="bar-leaf" />
      </svg>
      <div>Padded byte {bytes(c.leaf * 32)} → payload (CAR) bytes {bytes(place?.payloadStart ?? payloadStart)}–{bytes((place?.payloadEnd ?? payloadStart + 32) - 1)} (FR32 keeps 254 bits of each 32-byte leaf)</div>
      {place !== null
        ? <ul className="parts">{place.parts.map((p, i) => <li key={i} data-kind={p.kind} className={p.kind === 'file' ? 'verified' : ''}>{p.kind === 'file' ? '▶ ' : ''}{partText(p)}</li>)}</ul>
        : <div className="muted" data-testid="layout-missing">{detail.carBytes !== null && payloadStart >= detail.carBytes ? 'zero padding after the CAR. ' : ''}Layout not recorded for this upload: which file bytes are there is not known here.</div>}
    </div>
  )
}

const ROW = 34
// 340 units wide: on a 390 px phone the card's inside is ~324 px, so 12.5-unit text is ~12 px
const W = 340
const BOX = 94
const SPINE = 123
const LEFT = 24
const RIGHT = 222
const mark = (s: ProofStep['state'] | 'root-ok' | 'root-bad'): string => s === 'ok' || s === 'root-ok' ? '✓' : s === 'unknown' ? '?' : '✗'

/** The path as a spine from the root (top) to the leaf (bottom); each level's sibling hangs off the side it sits on. */
function PathSvg ({ c, pick }: { c: ChallengeDetail, pick: (p: Picked) => void }): React.JSX.Element {
  const L = c.steps.length
  const height = (L + 2) * ROW + 8
  // row 0 is the root, row L - k holds the path node of level k and its sibling
  const y = (row: number): number => 4 + row * ROW
  const node = (key: string, x: number, row: number, label: string, full: string, what: string, cls: string, testId: string, level?: number): React.JSX.Element => (
    <g key={key} className={`tree-node ${cls}`} data-testid={testId} data-level={level} tabIndex={0} role="button"
      onClick={() => { pick({ what, value: full }) }} onKeyDown={(e) => { if (e.key === 'Enter' || e.key === ' ') pick({ what, value: full }) }}>
      <title>{`${what}: ${full}`}</title>
      <rect x={x} y={y(row)} width={BOX} height={ROW - 12} rx="4" />
      <text x={x + BOX / 2} y={y(row) + 15} textAnchor="middle">{label}</text>
    </g>
  )
  const rows: React.JSX.Element[] = []
  const rootOk = c.ok
  rows.push(node('root', SPINE, 0, short(c.root), c.root, 'piece root (the piece CID\'s digest)', rootOk ? 'ok' : 'bad', 'tree-root', L))
  rows.push(<text key="root-l" x="2" y={y(0) + 15} className="level">{L}</text>)
  rows.push(<text key="root-m" x={W - 4} y={y(0) + 15} textAnchor="end" className={rootOk ? 'mark ok' : 'mark bad'} data-testid="tree-root-mark">{rootOk ? '✓' : '✗'}</text>)
  for (let k = L - 1; k >= 0; k--) {
    const s = c.steps[k]!
    const row = L - k
    const sibX = s.side === 'left' ? LEFT : RIGHT
    const subtree = 2 ** k
    // the path node at level k is what step k - 1 made (the leaf itself at level 0)
    const nodeFull = k === 0 ? c.value : c.steps[k - 1]!.node
    const nodeLabel = short(nodeFull)
    // edges from the node above (the spine) to this level's path node and sibling
    rows.push(<line key={`e${k}`} x1={SPINE + BOX / 2} y1={y(row - 1) + ROW - 12} x2={SPINE + BOX / 2} y2={y(row)} className={`edge ${s.state}`} />)
    rows.push(<line key={`es${k}`} x1={SPINE + BOX / 2} y1={y(row - 1) + ROW - 12} x2={sibX + BOX / 2} y2={y(row)} className="edge sibling" />)
    rows.push(<text key={`l${k}`} x="2" y={y(row) + 15} className="level">{k}</text>)
    rows.push(node(`n${k}`, SPINE, row, nodeLabel, nodeFull, k === 0 ? `challenged leaf ${c.leaf} (level 0)` : `path node, level ${k}`, k === 0 ? 'leaf' : 'path', k === 0 ? 'tree-leaf' : 'tree-node', k))
    rows.push(node(`s${k}`, sibX, row, short(s.sibling), s.sibling,
      `sibling at level ${k}, the root of a subtree of ${subtree.toLocaleString('en-US')} leaf${subtree === 1 ? '' : 's'} (not drawn)`, 'sibling', 'tree-sibling', k))
    // the elided subtree under a sibling: a dashed wedge, except at the leaf level
    if (k > 0) rows.push(<path key={`w${k}`} d={`M${sibX + BOX / 2 - 14},${y(row) + ROW - 6} l14,-6 l14,6`} className="elided" />)
    rows.push(
      <text key={`m${k}`} x={W - 4} y={y(row - 1) + ROW + 2} textAnchor="end" className={`mark ${s.state}`} data-testid="tree-step" data-state={s.state} data-level={k}>
        <title>{`step ${k} → ${k + 1}: H(${s.side === 'right' ? 'node, sibling' : 'sibling, node'}) ${s.state === 'ok' ? 'matches' : s.state === 'bad' ? 'is wrong' : 'is not pinned by a value known here'}${s.wasm === undefined ? '' : s.wasm ? '; the WASM verifier agrees' : '; the WASM verifier refuses it'}`}</title>
        {mark(s.state)}
      </text>
    )
  }
  rows.push(<text key="leaf-note" x={SPINE + BOX / 2} y={y(L + 1) + 10} textAnchor="middle" className="note">leaf {c.leaf.toLocaleString('en-US')} of {c.draw.leaves.toLocaleString('en-US')}; dashed: subtrees not drawn</text>)
  return (
    <div className="tree-scroll">
      <svg viewBox={`0 0 ${W} ${height}`} className="tree" role="img" data-testid="proof-tree" aria-label={`Merkle path of leaf ${c.leaf}: ${L} levels`}>
        {rows}
      </svg>
    </div>
  )
}
