// The Lotus methods the node answers: each one's parameter checks, its call into the RpcBackend and the
// Lotus JSON it returns. The transport (HTTP, WebSocket, JSON-RPC framing) is in rpc-server.ts.
import { readFileSync } from 'node:fs'
import { base64pad } from 'multiformats/bases/base64'
import {
  isKeyAddress, readEscrow, readDeal, getActor, getMinerInfo, listMiners, powerStateAt, readClaim, minerNominalPowerMeetsConsensusMinimum, readMarketState, amtEntries, readPaychState, resolveAddress, PAYCH_ACTOR_CODE, STORAGE_MARKET_ADDRESS,
  MARKET_ACTOR_CODE, makeTipSet, type CID, type SealedHeader, type DealRecord, type TipSet,
  certificateToLotusJson, powerTableToLotusJson
} from '../../core'
import type { RpcBackend, F3View } from './backend'
import {
  cidToLotus, addressToLotus, headerToLotus, tipSetToLotus, messageToLotus, actorToLotus,
  msgLookupToLotus, cidFromLotus, addressFromLotus, tipSetKeyFromLotus, uintFromLotus, messageFromLotus,
  signedMessageFromLotus, sendSpecFromLotus, minerInfoToLotus, claimToLotus, InvalidLotusJsonError
} from './lotus-json'
import { estimateMessageGas } from './gas-estimate'
import {
  BlockNotFoundError, MessageNotFoundError, ActorNotFoundError, NotAnAccountError, TipSetHeightError,
  InvalidParamsError, DealNotFoundError, MinerNotFoundError, StateNotDecodableError
} from './errors'

/** api/version.go: FullAPIVersion1 = newVer(2, 3, 0), FullAPIVersion0 = newVer(1, 5, 0), major<<16|minor<<8|patch. */
export const FULL_API_VERSION_V1 = 0x020300
export const FULL_API_VERSION_V0 = 0x010500


const PACKAGE_VERSION = ((): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
})()

export type ApiVersion = 0 | 1
export interface CallContext {
  signal: AbortSignal
  api: ApiVersion
  /** Who is calling: `http:<remote address>` or `ws:<remote address>:<connection id>` (rpc-server.ts). */
  origin: string
}
export interface Method {
  minParams: number
  maxParams: number
  /**
   * The call parks: it mostly waits for heads (StateWaitMsg) rather than working. The server counts such calls
   * apart from calls doing work, under caps of their own per remote address, so waits cannot crowd out work.
   */
  parks?: boolean
  run: (params: unknown[], ctx: CallContext) => Promise<unknown>
}

/** Lotus's F3 methods on a chain without F3 (a single-producer devnet, one made before it): go-f3's ErrF3Disabled. */
export class F3NotRunningError extends Error {
  static override name = 'F3NotRunningError'
  override name = 'F3NotRunningError'
  constructor () { super('f3 is disabled') }
}

function uint (v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidParamsError(`${field}: expected a non-negative integer`)
  return v
}

function lookbackLimit (v: unknown, field: string): number {
  if (v === undefined || v === null) return -1
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1) throw new InvalidParamsError(`${field}: expected an epoch count or -1 (no limit)`)
  return v
}

function flag (v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') throw new InvalidParamsError(`${field}: expected a boolean`)
  return v
}

/** A deal in Lotus's api.MarketDeal shape (Proposal, State with the v8 DealState fields). */
function marketDealToLotus (d: DealRecord): unknown {
  const p = d.proposal
  return {
    Proposal: {
      PieceCID: cidToLotus(p.pieceCid), PieceSize: p.pieceSize, VerifiedDeal: p.verifiedDeal, Client: addressToLotus(p.client), Provider: addressToLotus(p.provider),
      Label: typeof p.label === 'string' ? p.label : base64pad.baseEncode(p.label), StartEpoch: p.startEpoch, EndEpoch: p.endEpoch,
      StoragePricePerEpoch: p.storagePricePerEpoch.toString(), ProviderCollateral: p.providerCollateral.toString(), ClientCollateral: p.clientCollateral.toString()
    },
    State: { SectorStartEpoch: d.state.sectorStartEpoch, LastUpdatedEpoch: d.state.lastUpdatedEpoch, SlashEpoch: d.state.slashEpoch }
  }
}

/** Most deals StateMarketDeals lists (the AMT reader's bound); Lotus lists all, a devnet never comes near. */
const MAX_LISTED_DEALS = 10_000

async function untilHeight (backend: RpcBackend, target: number, signal: AbortSignal): Promise<void> {
  while (backend.head().header.height < target) await backend.nextHead(signal)
}

export function methods (backend: RpcBackend): Map<string, Method> {
  const block = async (cid: CID): Promise<SealedHeader> => {
    const found = await backend.headerByCid(cid)
    if (found === undefined) throw new BlockNotFoundError(cid.toString())
    return found
  }
  /** The tipset a TipSetKey names, every block loaded (the head's for an empty key); blocks that make no tipset are refused. */
  const wholeTipSet = async (v: unknown, field = 'TipSetKey'): Promise<TipSet> => {
    const key = tipSetKeyFromLotus(v, field)
    if (key === null) return backend.headTipSet()
    const blocks = await Promise.all(key.map(block))
    try {
      return makeTipSet(blocks)
    } catch (err) {
      throw new InvalidLotusJsonError('TIPSET_KEY', field, `these blocks make no tipset: ${(err as Error).message}`)
    }
  }
  /** The block a state read is anchored at: any of the tipset's (they name one ParentStateRoot), the first in Lotus's order. */
  const tipSet = async (v: unknown, field = 'TipSetKey'): Promise<SealedHeader> => (await wholeTipSet(v, field)).blocks[0]!
  const address = (v: unknown, field = 'address'): Uint8Array => addressFromLotus(v, field)

  const f3 = (): F3View => {
    if (backend.finality == null) throw new F3NotRunningError()
    return backend.finality
  }
  const table: Record<string, Method> = {
    'Filecoin.Version': {
      minParams: 0,
      maxParams: 0,
      run: async (_, ctx) => ({
        // Lotus's UserVersion is "<version>+<network>+git.<commit>"; a Lotus v0 endpoint reports FullAPIVersion0 (api/v0api/v1_wrapper.go)
        Version: `coffer/${PACKAGE_VERSION}+${backend.networkName()}`,
        APIVersion: ctx.api === 1 ? FULL_API_VERSION_V1 : FULL_API_VERSION_V0,
        BlockDelay: backend.blockDelaySecs()
      })
    },
    'Filecoin.StateNetworkName': { minParams: 0, maxParams: 0, run: async () => backend.networkName() },
    // Lotus's F3 methods (api/api_full.go), answered from this node's certificate store, in go-f3's JSON
    'Filecoin.F3IsRunning': { minParams: 0, maxParams: 0, run: async () => backend.finality != null },
    'Filecoin.F3GetLatestCertificate': {
      minParams: 0,
      maxParams: 0,
      run: async () => {
        const c = f3().latest()
        return c === undefined ? null : certificateToLotusJson(c)
      }
    },
    'Filecoin.F3GetCertificate': {
      minParams: 1,
      maxParams: 1,
      run: async ([instance]) => {
        const c = await f3().certificate(uint(instance, 'instance'))
        if (c === undefined) throw new InvalidParamsError(`no certificate for instance ${String(instance)} (yet)`)
        return certificateToLotusJson(c)
      }
    },
    'Filecoin.F3GetPowerTableByInstance': {
      minParams: 1,
      maxParams: 1,
      run: async ([instance]) => {
        const t = await f3().powerTableFor(uint(instance, 'instance'))
        if (t === null) throw new InvalidParamsError(`no power table for instance ${String(instance)} (yet)`)
        return powerTableToLotusJson(t)
      }
    },
    'Filecoin.ChainHead': { minParams: 0, maxParams: 0, run: async () => tipSetToLotus(backend.headTipSet()) },
    'Filecoin.ChainGetTipSet': { minParams: 1, maxParams: 1, run: async ([tsk]) => tipSetToLotus(await wholeTipSet(tsk)) },
    'Filecoin.StateGetBeaconEntry': {
      // Lotus: the beacon entry of the epoch's newest round (MaxBeaconRoundForEpoch), waiting for it when the epoch
      // is still to come. The chain answers: the block at the epoch carries it, or after a null round the block above
      minParams: 1,
      maxParams: 1,
      parks: true,
      run: async ([epoch], ctx) => {
        const e = uintFromLotus(epoch, 'epoch')
        await untilHeight(backend, e, ctx.signal)
        const entry = await backend.beaconEntryAt(e)
        if (entry === undefined) throw new BlockNotFoundError(`at height ${e}`)
        return { Round: entry.round, Data: base64pad.baseEncode(entry.data) }
      }
    },
    'Filecoin.ChainGetTipSetByHeight': {
      minParams: 1,
      maxParams: 2,
      run: async ([height, tsk]) => {
        const h = uintFromLotus(height, 'height')
        const anchor = await wholeTipSet(tsk)
        if (h > anchor.height) throw new TipSetHeightError(h, anchor.height)
        if (h === anchor.height) return tipSetToLotus(anchor)
        // the heaviest chain's tipset at `h`, or below it after null rounds (Lotus returns the tipset before them).
        // Read on the heaviest chain: an anchor on another fork gets that chain's ancestor, not its own
        const found = await backend.headerAtOrBelow(h)
        const ts = found === undefined ? undefined : await backend.tipSetAt(found.header.height)
        if (ts === undefined) throw new BlockNotFoundError(`at height ${h}`)
        return tipSetToLotus(ts)
      }
    },
    'Filecoin.ChainGetBlock': { minParams: 1, maxParams: 1, run: async ([cid]) => headerToLotus((await block(cidFromLotus(cid, 'cid'))).header) },
    'Filecoin.ChainGetMessage': {
      minParams: 1,
      maxParams: 1,
      run: async ([cid]) => {
        const c = cidFromLotus(cid, 'cid')
        const m = await backend.getMessage(c)
        if (m === undefined) throw new MessageNotFoundError(c.toString())
        return messageToLotus(m)
      }
    },
    'Filecoin.MpoolPush': {
      minParams: 1,
      maxParams: 1,
      // the pool's failure limits and queue shares are per remote address: a new connection is no new origin
      run: async ([sm], ctx) => cidToLotus(await backend.mpoolPush(signedMessageFromLotus(sm), { origin: `rpc:${ctx.origin.replace(/^(ws:(.*):\d+|http:(.*))$/, '$2$3')}` }))
    },
    'Filecoin.MpoolGetNonce': { minParams: 1, maxParams: 1, run: async ([a]) => await backend.mpoolNonce(address(a)) },
    'Filecoin.GasEstimateMessageGas': {
      minParams: 1,
      maxParams: 3,
      run: async ([msg, spec, tsk]) => {
        const m = messageFromLotus(msg)
        const sendSpec = sendSpecFromLotus(spec)
        const at = await tipSet(tsk)
        const estimated = estimateMessageGas(m, sendSpec, at.header.parentBaseFee)
        // encoding/json turns "Params": "" into an empty non-nil slice, which Lotus echoes back as ""
        const emptyParams = (msg as { Params?: unknown }).Params === '' ? '' : null
        return messageToLotus(estimated, 't', emptyParams)
      }
    },
    'Filecoin.StateGetActor': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const actor = await backend.getActor(addr, await tipSet(tsk))
        if (actor === null) throw new ActorNotFoundError(addressToLotus(addr))
        return actorToLotus(actor)
      }
    },
    'Filecoin.WalletBalance': {
      minParams: 1,
      maxParams: 1,
      run: async ([a]) => ((await backend.getActor(address(a)))?.balance ?? 0n).toString()
    },
    'Filecoin.StateAccountKey': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const at = await tipSet(tsk)
        // stmgr.ResolveToDeterministicAddress: key addresses are their own account key
        if (isKeyAddress(addr)) return addressToLotus(addr)
        // Coffer keys accounts by key address, so no ID or actor address stands for one
        if (await backend.getActor(addr, at) === null) throw new ActorNotFoundError(addressToLotus(addr))
        throw new NotAnAccountError(addressToLotus(addr))
      }
    },
    'Filecoin.StateSearchMsg': {
      minParams: 1,
      maxParams: 4,
      run: async (params) => {
        // v0: StateSearchMsg(cid); v1: StateSearchMsg(tsk, cid, lookbackLimit, allowReplaced)
        const v0 = params.length === 1
        const from = v0 ? backend.head() : await tipSet(params[0])
        const cid = cidFromLotus(v0 ? params[0] : params[1], 'cid')
        const limit = v0 ? -1 : lookbackLimit(params[2], 'lookbackLimit')
        flag(params[3], 'allowReplaced', true) // Coffer's pool has no replace-by-fee: nothing is ever replaced
        const found = await backend.searchMessage(cid)
        if (found === null) return null
        // Lotus searches backwards from `from`, at most `limit` epochs
        const h = found.executedIn.header.height
        if (h > from.header.height || (limit >= 0 && h < from.header.height - limit)) return null
        return msgLookupToLotus(found)
      }
    },
    'Filecoin.StateWaitMsg': {
      minParams: 1,
      maxParams: 4,
      parks: true,
      run: async ([cid, confidence, limit, allowReplaced], ctx) => {
        const c = cidFromLotus(cid, 'cid')
        const depth = confidence === undefined || confidence === null ? 0 : uintFromLotus(confidence, 'confidence')
        lookbackLimit(limit, 'lookbackLimit')
        flag(allowReplaced, 'allowReplaced', true)
        const found = await backend.waitMessage(c, ctx.signal)
        // stmgr.WaitForMessage: answer once `confidence` tipsets sit on top of the one that executed it
        await untilHeight(backend, found.executedIn.header.height + depth, ctx.signal)
        return msgLookupToLotus(found)
      }
    },
    // the market as Lotus shows it (api.MarketBalance, api.MarketDeal with the v8 DealState fields)
    'Filecoin.StateMarketBalance': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const at = await tipSet(tsk)
        const e = backend.readState((s, r) => readEscrow(s, r, address(a)), at)
        return { Escrow: e.escrow.toString(), Locked: e.locked.toString() }
      }
    },
    'Filecoin.StateMarketStorageDeal': {
      minParams: 1,
      maxParams: 2,
      run: async ([id, tsk]) => {
        const dealId = uintFromLotus(id, 'dealID')
        const at = await tipSet(tsk)
        const d = backend.readState((s, r) => readDeal(s, r, dealId), at)
        if (d === null) throw new DealNotFoundError(dealId)
        return marketDealToLotus(d)
      }
    },
    // map[deal ID as a decimal string]MarketDeal, as Lotus's StateMarketDeals: how a client finds who stores a payload (Label)
    'Filecoin.StateMarketDeals': {
      minParams: 0,
      maxParams: 1,
      run: async ([tsk]) => {
        const at = await tipSet(tsk)
        return backend.readState((s, r) => {
          const market = getActor(s, r, STORAGE_MARKET_ADDRESS)
          if (market === null || !market.code.equals(MARKET_ACTOR_CODE)) return {}
          const ids = amtEntries(s, readMarketState(s, market.head).proposals, 'v3', MAX_LISTED_DEALS).map(([id]) => id)
          return Object.fromEntries(ids.flatMap(id => {
            const d = readDeal(s, r, id)
            return d === null ? [] : [[String(id), marketDealToLotus(d)]]
          }))
        }, at)
      }
    },
    // api.MinerInfo, field for field from the miner's MinerInfo (Lotus's StateMinerInfo, node/impl/full/state.go)
    'Filecoin.StateMinerInfo': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const at = await tipSet(tsk)
        const info = backend.readState((s, r) => getMinerInfo(s, r, addr), at)
        if (info === null) throw new MinerNotFoundError(addressToLotus(addr))
        return minerInfoToLotus(info)
      }
    },
    // []address.Address of every miner with a claim in the power actor (stmgr.ListMinerActors). Lotus builds it with
    // `var miners []address.Address` and appends (chain/actors/builtin/power ListAllMiners), so with no miner the
    // nil slice marshals to null, not []
    'Filecoin.StateListMiners': {
      minParams: 0,
      maxParams: 1,
      run: async ([tsk]) => {
        const at = await tipSet(tsk)
        const miners = backend.readState((s, r) => listMiners(s, r), at).map(m => addressToLotus(m))
        return miners.length === 0 ? null : miners
      }
    },
    // api.MinerPower {MinerPower, TotalPower, HasMinPower} as stmgr.GetPowerRaw: a miner without a claim gets a zero
    // claim and false, not an error; HasMinPower is the power State's miner_nominal_power_meets_consensus_minimum
    // (builtin-actors actors/power/src/state.rs) with a devnet's minimum (MINIMUM_CONSENSUS_POWER, min-power-2k)
    'Filecoin.StateMinerPower': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const at = await tipSet(tsk)
        return backend.readState((s, r) => {
          const power = powerStateAt(s, r)
          const total = claimToLotus({ rawBytePower: power?.totalRawBytePower ?? 0n, qualityAdjPower: power?.totalQualityAdjPower ?? 0n })
          const claim = readClaim(s, r, addr)
          if (claim === null || power === null) return { MinerPower: claimToLotus({ rawBytePower: 0n, qualityAdjPower: 0n }), TotalPower: total, HasMinPower: false }
          return { MinerPower: claimToLotus(claim), TotalPower: total, HasMinPower: minerNominalPowerMeetsConsensusMinimum(power, claim) }
        }, at)
      }
    },
    // api.ActorState {Balance, Code, State}: decoded for the actors a Coffer client reads this way (payment channels,
    // in the paych State's JSON field names); LaneStates stays a link, read with ChainReadObj as Lotus's tools do
    'Filecoin.StateReadState': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const at = await tipSet(tsk)
        return backend.readState((s, r) => {
          // a channel is usually named by its robust (f2) address: the init actor's map gives its ID
          const id = resolveAddress(s, r, addr)
          const actor = id === null ? null : getActor(s, r, id)
          if (actor === null) throw new ActorNotFoundError(addressToLotus(addr))
          if (!actor.code.equals(PAYCH_ACTOR_CODE)) throw new StateNotDecodableError(addressToLotus(addr), actor.code.toString())
          const st = readPaychState(s, actor.head)
          return {
            Balance: actor.balance.toString(),
            Code: cidToLotus(actor.code),
            State: {
              From: addressToLotus(st.from), To: addressToLotus(st.to), ToSend: st.toSend.toString(), SettlingAt: st.settlingAt,
              MinSettleHeight: st.minSettleHeight, LaneStates: cidToLotus(st.laneStates)
            }
          }
        }, at)
      }
    },
    // the raw bytes of a state or chain block (base64), as Lotus's ChainReadObj
    'Filecoin.ChainReadObj': {
      minParams: 1,
      maxParams: 1,
      run: async ([c]) => {
        const cid = cidFromLotus(c, 'cid')
        const bytes = backend.readState((s) => s.get(cid))
        if (bytes === undefined) throw new BlockNotFoundError(cid.toString())
        return base64pad.baseEncode(bytes)
      }
    },
    'Coffer.StateProof': {
      minParams: 1,
      maxParams: 2,
      run: async ([a, tsk]) => {
        const addr = address(a)
        const r = await backend.stateProof(addr, await tipSet(tsk))
        return {
          Header: headerToLotus(r.header.header),
          HeaderCid: cidToLotus(r.header.cid),
          StateRoot: cidToLotus(r.proof.stateRoot),
          Actor: r.actor === null ? null : actorToLotus(r.actor),
          Proof: r.proof.blocks.map(b => base64pad.baseEncode(b))
        }
      }
    },
    'Coffer.Faucet': { minParams: 1, maxParams: 1, run: async ([a]) => cidToLotus(await backend.faucet(address(a))) }
  }
  return new Map(Object.entries(table))
}
