// The devnet's storage providers: N of them, each with its folder under <data>/providers/<n>, its keys,
// its libp2p node, ask, deal and retrieval protocols, a proving loop and a voucher-redeeming loop. Genesis
// records them as miners t01001…; a restart finds them there (the count is fixed at genesis, as a Lotus
// devnet's pre-sealed miners are).
import path from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  secpAddressBytes, secpPublicKey, idAddressBytes, addressToString, getMinerInfo, bytesEqual, parseFil,
  type GenesisProvider, type GenesisAllocation, type AttoFil, type CID
} from '../../core'
import { createCofferLibp2p, serveAsk, serveDeals, serveRetrievals, serveStaging, type CofferLibp2p } from '../../net'
import { loadOrCreateProviderKeys, type ProviderKeys } from './provider-keys'
import { ProviderStore } from './provider-store'
import { StorageProvider, type ProviderChain, type ProviderAskInit, type ProviderLimits } from './storage-provider'
import { RetrievalServer } from './retrieval-server'
import { startHttpGateway, type HttpGateway } from './http-gateway'
import { serveProviderAudits } from './audit-server'

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
    const worker = secpAddressBytes(secpPublicKey(keys.worker))
    providers.push({ id: FIRST_PROVIDER_ID + i, info: { owner: worker, worker, peerId: peerIdFromPrivateKey(keys.peer).toMultihash().bytes } })
    allocations.push({ address: worker, balance: parseFil(PROVIDER_GENESIS_FIL) })
  }
  return { providers, allocations }
}

export interface RunningProvider {
  provider: StorageProvider
  /** Serves `/coffer/retrieval/1.0.0` and redeems the vouchers it is paid with. */
  retrieval: RetrievalServer
  libp2p: CofferLibp2p
  /** Its HTTP gateway (IPFS Trustless Gateway and FRC-0066 piece gateway); its URL is in the provider's ask. */
  gateway: HttpGateway
  keys: ProviderKeys
  /** t01001 … */
  address: string
  stop: () => Promise<void>
}

export class ProviderKeyMismatchError extends Error {
  static override name = 'ProviderKeyMismatchError'
  override name = 'ProviderKeyMismatchError'
}

/** What a test (or an operator) changes of a devnet provider: its ask and its limits. */
export interface DevnetProviderOptions {
  ask?: Partial<ProviderAskInit>
  limits?: Partial<ProviderLimits>
  /** Where its libp2p listens, and the addresses it tells peers instead (a test puts a slow link in front of it). */
  listen?: string[]
  announce?: string[]
  /**
   * How long its deal and stage servers wait with no byte arriving; DEAL_IDLE_TIMEOUT_MS (30 s) when left out.
   * A test of behaviour at the idle timeout sets a few seconds instead of waiting out the 30.
   */
  idleTimeoutMs?: number
  /** The port its HTTP gateway binds on the devnet's host; 0 (any free port) when left out. */
  gatewayPort?: number
  /** The provider's clock for idle expiry (stages, staging); Date.now when left out. A test moves it on instead of waiting. */
  nowMs?: () => number
}

/** The node's chain as a provider running in the same process sees it: it may push as the node's own signer. */
export type LocalChain = ProviderChain & { mpoolPush: (sm: Parameters<ProviderChain['mpoolPush']>[0], from?: { local?: boolean }) => Promise<CID> }

/**
 * The provider's view of the node: its messages are pushed as local (checked inline, ~1 ms for its secp
 * worker key), so RPC clients filling the pool's signature queue cannot refuse its PublishStorageDeals or
 * SubmitPossessionProofs as busy (issue 9 review).
 */
function providerChain (chain: LocalChain): ProviderChain {
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
export async function startDevnetProviders (init: { dataDir: string, host: string, chain: LocalChain, log: (line: string) => void, options?: (index: number) => DevnetProviderOptions | undefined }): Promise<RunningProvider[]> {
  const running: RunningProvider[] = []
  const chain = providerChain(init.chain)
  try {
    for (let i = 0; ; i++) {
      const address = idAddressBytes(FIRST_PROVIDER_ID + i)
      const info = init.chain.readState((s, r) => getMinerInfo(s, r, address))
      if (info === null) break
      const dir = providerDir(init.dataDir, i)
      const keys = await loadOrCreateProviderKeys(dir)
      if (!bytesEqual(secpAddressBytes(secpPublicKey(keys.worker)), info.worker)) {
        throw new ProviderKeyMismatchError(`${dir}/keys.json is not the key genesis recorded for ${addressToString(address)}; start with --reset`)
      }
      const options = init.options?.(i)
      // the gateway listens first: its URL goes into the ask the provider signs
      const gateway = await startHttpGateway({ host: init.host, port: options?.gatewayPort ?? 0, log: init.log })
      let libp2p: CofferLibp2p
      try {
        libp2p = await createCofferLibp2p({ privateKey: keys.peer, listen: options?.listen ?? [`/ip4/${init.host}/tcp/0/ws`], ...(options?.announce === undefined ? {} : { announce: options.announce }) })
      } catch (err) {
        await gateway.stop()
        throw err
      }
      const provider = new StorageProvider({
        id: FIRST_PROVIDER_ID + i, store: await ProviderStore.open(dir), workerKey: keys.worker, chain, ask: { ...devnetAsk(i), gatewayUrl: gateway.url, ...options?.ask }, limits: options?.limits, log: init.log,
        ...(options?.nowMs === undefined ? {} : { nowMs: options.nowMs })
      })
      await serveAsk(libp2p, async () => await provider.ask())
      const idle = options?.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }
      await serveDeals(libp2p, provider, { log: init.log, rateFloor: provider.limits.rateFloor, ...idle })
      await serveStaging(libp2p, provider.prestage, { log: init.log, rateFloor: provider.limits.rateFloor, ...idle })
      const retrieval = await RetrievalServer.open({ provider, log: init.log })
      await serveRetrievals(libp2p, retrieval, { log: init.log })
      await serveProviderAudits(libp2p, { store: provider.store, log: init.log })
      gateway.attach({
        store: provider.store, payloads: retrieval.payloads, retrievalTerms: () => provider.retrievalTerms(), miner: addressToString(address), worker: addressToString(provider.worker),
        payUpfront: async (voucher, price, bytes) => await retrieval.payUpfront(voucher, price, bytes)
      })
      provider.start()
      retrieval.start()
      running.push({
        provider, retrieval, libp2p, gateway, keys, address: addressToString(address),
        stop: async () => {
          await gateway.stop()
          await retrieval.stop()
          await provider.stop()
          await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 3000).unref())])
        }
      })
    }
  } catch (err) {
    for (const r of running) await r.stop().catch(() => {})
    throw err
  }
  return running
}
