// React state for the light client: the latest status and wallet snapshots, the fatal error that stopped
// it, and `call` for requests (wallet actions, block details).
import { useCallback, useEffect, useRef, useState } from 'react'
import type { LightClientStatus } from '../light/status'
import type { WalletView } from '../light/wallet-service'
import type { DealsView } from '../light/deal-service'
import type { RetrievalsView } from '../light/retrieval-service'
import type { WireError } from '../core/errors'
import type { LightClientConnection, Call, NodeKind } from './light-client-port'
import { takeConnection, earlyStatus } from './early-connection'

export type { Call }

export function useLightClient (): { status: LightClientStatus | null, wallet: WalletView | null, deals: DealsView | null, retrievals: RetrievalsView | null, fatal: WireError | null, call: Call, nodeKind: NodeKind | null } {
  // what the early connection holds already (a reload's saved status, read while React loaded) is the first render's
  const [status, setStatus] = useState<LightClientStatus | null>(earlyStatus)
  const [deals, setDeals] = useState<DealsView | null>(null)
  const [retrievals, setRetrievals] = useState<RetrievalsView | null>(null)
  const [wallet, setWallet] = useState<WalletView | null>(null)
  const [fatal, setFatal] = useState<WireError | null>(null)
  const conn = useRef<LightClientConnection | null>(null)
  const [nodeKind, setNodeKind] = useState<NodeKind | null>(null)
  useEffect(() => {
    // the kind the connection started as, unless it already said what it became (an early connection's tab may have
    // won the leader election before the app loaded: that word is replayed first and must stand)
    let told = false
    const c = takeConnection((msg) => {
      if (msg.type === 'status') setStatus(msg.status)
      else if (msg.type === 'wallet') setWallet(msg.wallet)
      else if (msg.type === 'deals') setDeals(msg.deals)
      else if (msg.type === 'retrievals') setRetrievals(msg.retrievals)
      else if (msg.type === 'fatal') setFatal(msg.error)
    }, (kind) => { told = true; setNodeKind(kind) })
    conn.current = c
    if (!told) setNodeKind(c.kind)
    return () => { c.stop(); conn.current = null }
  }, [])
  const call = useCallback<Call>(async (method, params, opts) => {
    if (conn.current === null) throw new Error('the light client is not running')
    return await conn.current.call(method, params, opts)
  }, [])
  return { status, wallet, deals, retrievals, fatal, call, nodeKind }
}
