// The devnet's storage providers: N of them, each with its folder under <data>/providers/<n>, its keys,
// its libp2p node, ask, deal and retrieval protocols, a proving loop and a voucher-redeeming loop. Genesis
// records them as miners t01001…; a restart finds them there (the count is fixed at genesis, as a Lotus
// devnet's pre-sealed miners are).
import { tryWebRtcDirect } from '../optional-webrtc-direct'
import path from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  idAddressBytes, addressToString, getMinerInfo, bytesEqual, parseFil,
  type GenesisProvider, type GenesisAllocation, type AttoFil, type CID
} from '../../core'
import { createCofferLibp2p } from '../../net'
import { loadOrCreateProviderKeys, workerAddress } from './provider-keys'
import type { ProviderChain, ProviderAskInit } from './storage-provider'
import { startProviderServices, type ProviderServices, type ProviderServiceOptions } from './provider-services'
import { readMiner, writeMiner, writeAsk, saveNetwork } from './provider-folder'
import type { BootstrapDocument } from '../../net'
import { writePreseal, recordPreseal, presealDealOf } from './preseal'

export const FIRST_PROVIDER_ID = 1001
/** What genesis gives each provider's worker: gas and collateral for a long devnet life. */
export const PROVIDER_GENESIS_FIL = '10000'

/**
 * Filecoin's default retrieval payment interval and its increase: 1 MiB each (go-fil-markets retrievalmarket
 * DefaultPaymentInterval / DefaultPaymentIntervalIncrease = 1 << 20, the default retrieval ask's terms).
 */
export const DEVNET_PAYMENT_INTERVAL = 2 ** 20
export const DEVNET_PAYMENT_INTERVAL_INCREASE = 2 ** 20

/**
 * Devnet retrieval prices per GiB sent: provider 1 (t01002) retrieves for free, as many Filecoin providers
 * do; the others ask 0.01, 0.03, 0.04 … FIL per GiB, so choosing by retrieval price means something too.
 */
export function devnetRetrievalPrice (index: number): AttoFil {
  return index === 1 ? 0n : parseFil('0.01') * BigInt(index + 1)
}

/** Devnet asks differ by provider, so choosing by price means something: 1, 1.5, 2 … nanoFIL per GiB per epoch. */
export function devnetAsk (index: number): ProviderAskInit {
  return {
    pricePerGiBEpoch: 1_000_000_000n + BigInt(index) * 500_000_000n,
    minPieceSize: 128,
    maxPieceSize: 16 * 2 ** 30,
    collateralPerGiB: parseFil('0.1') as AttoFil,
    capacityBytes: 32 * 2 ** 30,
    retrievalPricePerGiB: devnetRetrievalPrice(index),
    paymentInterval: DEVNET_PAYMENT_INTERVAL,
    paymentIntervalIncrease: DEVNET_PAYMENT_INTERVAL_INCREASE
  }
}

export const providerDir = (dataDir: string, index: number): string => path.join(dataDir, 'providers', String(FIRST_PROVIDER_ID + index))

/** Keys for `count` providers, and what genesis records and funds for them. */
export async function genesisProviders (dataDir: string, count: number): Promise<{ providers: GenesisProvider[], allocations: GenesisAllocation[] }> {
  const providers: GenesisProvider[] = []
  const allocations: GenesisAllocation[] = []
  for (let i = 0; i < count; i++) {
    const keys = await loadOrCreateProviderKeys(providerDir(dataDir, i))
    const worker = workerAddress(keys)
    // each starts with a pre-sealed piece (preseal.ts): genesis power, which the first elections need
    const { pieceCid, pieceSize } = await writePreseal(providerDir(dataDir, i), FIRST_PROVIDER_ID + i)
    providers.push({ id: FIRST_PROVIDER_ID + i, info: { owner: worker, worker, peerId: peerIdFromPrivateKey(keys.peer).toMultihash().bytes }, preseal: { pieceCid, pieceSize } })
    allocations.push({ address: worker, balance: parseFil(PROVIDER_GENESIS_FIL) })
  }
  return { providers, allocations }
}

/** A provider's services together with the libp2p node they run on; `stop` stops both. */
export type RunningProvider = ProviderServices

export class ProviderKeyMismatchError extends Error {
  static override name = 'ProviderKeyMismatchError'
  override name = 'ProviderKeyMismatchError'
}

/** What a test (or an operator) changes of a devnet provider: its ask and limits, and where its libp2p listens. */
export interface DevnetProviderOptions extends ProviderServiceOptions {
  /** Where its libp2p listens, and the addresses it tells peers instead (a test puts a slow link in front of it). */
  listen?: string[]
  announce?: string[]
}

/** The node's chain as a provider running in the same process sees it: it may push as the node's own signer. */
export type LocalChain = ProviderChain & { mpoolPush: (sm: Parameters<ProviderChain['mpoolPush']>[0], from?: { local?: boolean }) => Promise<CID> }

/**
 * The provider's view of the node: its messages are pushed as local (checked inline: one pairing for its BLS
 * worker key), so RPC clients filling the pool's signature queue cannot refuse its PublishStorageDeals or
 * SubmitPossessionProofs as busy (issue 9 review).
 */
export function providerChain (chain: LocalChain): ProviderChain {
  const mpoolPush: ProviderChain['mpoolPush'] = async (sm) => await chain.mpoolPush(sm, { local: true })
  // everything else is the chain's own, bound to it (a Proxy, so members added to ProviderChain need no edit here)
  return new Proxy(chain, {
    get: (target, prop) => {
      if (prop === 'mpoolPush') return mpoolPush
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

/** Starts every provider genesis recorded, from its folder. */
export async function startDevnetProviders (init: { dataDir: string, host: string, chain: LocalChain, log: (line: string) => void, options?: (index: number) => DevnetProviderOptions | undefined, webrtcDirect?: boolean, relay?: boolean }): Promise<RunningProvider[]> {
  const running: RunningProvider[] = []
  const chain = providerChain(init.chain)
  try {
    for (let i = 0; ; i++) {
      const address = idAddressBytes(FIRST_PROVIDER_ID + i)
      const info = init.chain.readState((s, r) => getMinerInfo(s, r, address))
      if (info === null) break
      const dir = providerDir(init.dataDir, i)
      const keys = await loadOrCreateProviderKeys(dir)
      if (!bytesEqual(workerAddress(keys), info.worker)) {
        throw new ProviderKeyMismatchError(`${dir}/keys.json is not the key genesis recorded for ${addressToString(address)}; start with --reset`)
      }
      await recordPreseal(dir, FIRST_PROVIDER_ID + i, init.chain.readState((s, r) => presealDealOf(s, r, address)))
      const options = init.options?.(i)
      // WebRTC-Direct beside WebSockets when the devnet has it, each provider's certificate kept in its own folder
      const rtc = init.webrtcDirect === true ? await tryWebRtcDirect(dir, init.host, 0, init.log) : { transports: [], listen: [] }
      const libp2p = await createCofferLibp2p({
        role: 'node',
        relayServer: init.relay !== false,
        privateKey: keys.peer,
        listen: options?.listen ?? [`/ip4/${init.host}/tcp/0/ws`, ...rtc.listen],
        transports: rtc.transports,
        ...(options?.announce === undefined ? {} : { announce: options.announce })
      })
      const stopLibp2p = async (): Promise<void> => { await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000).unref())]) }
      let services: ProviderServices
      try {
        services = await startProviderServices({ libp2p, chain, keys, minerId: FIRST_PROVIDER_ID + i, dir, host: init.host, ask: devnetAsk(i), options, log: init.log })
      } catch (err) {
        await stopLibp2p()
        throw err
      }
      running.push({ ...services, stop: async () => { await services.stop(); await stopLibp2p() } })
    }
  } catch (err) {
    for (const r of running) await r.stop().catch(() => {})
    throw err
  }
  return running
}

/** A genesis provider's folder, made ready for `coffer provider run` (provider-children.ts). */
export interface GenesisProviderFolder {
  dir: string
  /** t01001 … */
  address: string
  ask: ProviderAskInit
  /** Writes what `coffer provider init` would (network.json), the miner genesis created (miner.json) and the devnet's ask (ask.json). */
  prepare: (network: BootstrapDocument) => Promise<void>
}

/** Every provider genesis recorded, with its folder checked against its keys: the devnet runs each as a child process. */
export async function genesisProviderFolders (init: { dataDir: string, chain: ProviderChain, options?: (index: number) => DevnetProviderOptions | undefined }): Promise<GenesisProviderFolder[]> {
  const folders: GenesisProviderFolder[] = []
  for (let i = 0; ; i++) {
    const id = idAddressBytes(FIRST_PROVIDER_ID + i)
    const info = init.chain.readState((s, r) => getMinerInfo(s, r, id))
    if (info === null) break
    const dir = providerDir(init.dataDir, i)
    const keys = await loadOrCreateProviderKeys(dir)
    const address = addressToString(id)
    if (!bytesEqual(workerAddress(keys), info.worker)) {
      throw new ProviderKeyMismatchError(`${dir}/keys.json is not the key genesis recorded for ${address}; start with --reset`)
    }
    const { gatewayUrl: _g, ...ask } = { ...devnetAsk(i), ...init.options?.(i)?.ask }
    folders.push({
      dir, address, ask,
      prepare: async (network) => {
        await saveNetwork(dir, network)
        const known = await readMiner(dir)
        if (known !== null && known !== address) throw new ProviderKeyMismatchError(`${dir}/miner.json names ${known}, but genesis recorded this folder's keys as ${address}; start with --reset`)
        if (known === null) await writeMiner(dir, address)
        await writeAsk(dir, ask)
        await recordPreseal(dir, FIRST_PROVIDER_ID + i, init.chain.readState((s, r) => presealDealOf(s, r, id)))
      }
    })
  }
  return folders
}
