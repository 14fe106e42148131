// One dispatch table from actor code to methods (market, init, payment channel, power, reward, miner), as the FVM dispatches on the receiver's code CID: message
// application looks up the receiver's code and runs the method found here (none: ErrUnhandledMessage),
// and actors call each other (init → a new channel's constructor, a channel paying out) through the same
// table with `send`.
import type { CID } from '../cid'
import { getActor, setActor, creditActor } from '../state-tree'
import { isKeyAddress } from '../address'
import { ExitCode } from '../block-messages'
import { METHOD_SEND } from '../message'
import { invokeMarket, MarketMethod, type MarketContext } from '../market/market-actor'
import { ActorError, type InvokeResult } from './actor-error'
import { MARKET_ACTOR_CODE } from '../market/market-state'
import { INIT_ACTOR_CODE, resolveAddress } from '../init/init-state'
import { InitMethod, initExec } from '../init/init-actor'
import { PAYCH_ACTOR_CODE } from '../paych/paych-state'
import { POWER_ACTOR_CODE } from '../power/power-state'
import { PowerMethod } from '../power/power-params'
import { powerCreateMiner, powerUpdateClaimedPower, powerUpdatePledgeTotal } from '../power/power-actor'
import { MINER_ACTOR_CODE } from '../market/market-state'
import { MinerMethod } from '../miner/miner-params'
import { minerConstructor, minerControlAddresses, minerChangePeerId, minerChangeMultiaddrs, minerWithdrawBalance } from '../miner/miner-actor'
import { PaychMethod, paychConstructor, paychUpdateChannelState, paychSettle, paychCollect } from '../paych/paych-actor'
import { REWARD_ACTOR_CODE } from '../reward/reward-state'
import { RewardMethod, rewardAwardBlockReward, rewardThisEpochReward, rewardUpdateNetworkKpi } from '../reward/reward-actor'
import type { ActorCode, ActorRuntime, MessageScope, MethodHandler } from './runtime'
import type { AttoFil } from '../units'

const fail = (code: number, message: string): never => { throw new ActorError(code, message) }

/** The market keeps its own method switch (invokeMarket); the table names which methods exist. */
const marketMethod = (method: number): MethodHandler => (rt, root, params) => {
  const ctx: MarketContext = { store: rt.store, epoch: rt.epoch, params: rt.market, beaconAt: rt.beaconAt, pathCheck: rt.pathCheck }
  return invokeMarket(ctx, root, rt.caller, rt.valueReceived, method, params)
}

const codes: ActorCode[] = [
  {
    name: 'storagemarket',
    code: MARKET_ACTOR_CODE,
    methods: new Map(Object.values(MarketMethod).map(m => [m, marketMethod(m)]))
  },
  { name: 'init', code: INIT_ACTOR_CODE, methods: new Map([[InitMethod.Exec, initExec]]) },
  {
    name: 'paymentchannel',
    code: PAYCH_ACTOR_CODE,
    methods: new Map<number, MethodHandler>([
      [PaychMethod.Constructor, paychConstructor],
      [PaychMethod.UpdateChannelState, paychUpdateChannelState],
      [PaychMethod.Settle, paychSettle],
      [PaychMethod.Collect, paychCollect]
    ])
  },
  {
    // Constructor (1) is never called: genesis writes the power actor's state, as Lotus's genesis does
    name: 'storagepower',
    code: POWER_ACTOR_CODE,
    methods: new Map<number, MethodHandler>([
      [PowerMethod.CreateMiner, powerCreateMiner],
      // no Coffer actor sends it (deal power is settled by the market's cron), but a message that calls it gets
      // builtin-actors' answer (only a miner may) rather than an unhandled method
      [PowerMethod.UpdateClaimedPower, powerUpdateClaimedPower],
      [PowerMethod.UpdatePledgeTotal, powerUpdatePledgeTotal]
    ])
  },
  {
    // Constructor (1) is never called: genesis writes the reward actor's state (genesisRewardActor)
    name: 'reward',
    code: REWARD_ACTOR_CODE,
    methods: new Map<number, MethodHandler>([
      [RewardMethod.AwardBlockReward, rewardAwardBlockReward],
      [RewardMethod.ThisEpochReward, rewardThisEpochReward],
      [RewardMethod.UpdateNetworkKPI, rewardUpdateNetworkKpi]
    ])
  },
  {
    name: 'storageminer',
    code: MINER_ACTOR_CODE,
    methods: new Map<number, MethodHandler>([
      [MinerMethod.Constructor, minerConstructor],
      [MinerMethod.ControlAddresses, minerControlAddresses],
      [MinerMethod.ChangePeerID, minerChangePeerId],
      [MinerMethod.WithdrawBalance, minerWithdrawBalance],
      [MinerMethod.ChangeMultiaddrs, minerChangeMultiaddrs]
    ])
  }
]

/** Actor codes with methods, keyed by the code CID's string. */
export const ACTOR_CODES: ReadonlyMap<string, ActorCode> = new Map(codes.map(c => [c.code.toString(), c]))

/** The handler of `method` on an actor of `code`; undefined for Send (0), an unknown code or an unknown method. */
export function methodHandler (code: CID | undefined, method: number): MethodHandler | undefined {
  if (code === undefined || method === METHOD_SEND) return undefined
  return ACTOR_CODES.get(code.toString())?.methods.get(method)
}

/** What every call of one message shares: the chain's parameters and the message's origin. */
export type CallContext = Pick<ActorRuntime, 'store' | 'epoch' | 'market' | 'paych' | 'beaconAt' | 'pathCheck'>

/** The runtime of one call: `caller` calling `receiver` (an ID or key address) with `value` already credited. */
export function callRuntime (ctx: CallContext, message: MessageScope, caller: Uint8Array, receiver: Uint8Array, value: AttoFil): ActorRuntime {
  const rt: ActorRuntime = {
    ...ctx,
    caller,
    receiver,
    valueReceived: value,
    message,
    send: (root, to, method, params, amount) => internalSend(ctx, message, receiver, root, to, method, params, amount)
  }
  return rt
}

function internalSend (ctx: CallContext, message: MessageScope, from: Uint8Array, root: CID, to: Uint8Array, method: number, params: Uint8Array, value: AttoFil): InvokeResult {
  const store = ctx.store
  const target = resolveAddress(store, root, to) ?? fail(ExitCode.SysErrInvalidReceiver, 'send to an f2 address no actor has')
  const payer = getActor(store, root, from) ?? fail(ExitCode.SysErrSenderInvalid, 'the sending actor does not exist')
  if (value < 0n || payer.balance < value) fail(ExitCode.SysErrInsufficientFunds, `send of ${value} attoFIL from an actor holding ${payer.balance}`)
  const receiver = getActor(store, root, target)
  if (receiver === null && !isKeyAddress(target)) fail(ExitCode.SysErrInvalidReceiver, 'send to an f0 address no actor has')
  const handler = method === METHOD_SEND ? undefined : (methodHandler(receiver?.code, method) ?? fail(ExitCode.ErrUnhandledMessage, `no method ${method} on the receiver`))
  if (value > 0n) root = creditActor(store, setActor(store, root, from, { ...payer, balance: payer.balance - value }), target, value)
  if (handler === undefined) return { root, return: new Uint8Array(0) }
  return handler(callRuntime(ctx, message, from, target, value), root, params)
}
