// React state for the light client: the latest status snapshot, or the fatal error that stopped it.
import { useEffect, useState } from 'react'
import type { LightClientStatus } from '../light/status'
import type { WireError } from '../core/errors'
import { connectLightClient } from './light-client-port'

export function useLightClient (): { status: LightClientStatus | null, fatal: WireError | null } {
  const [status, setStatus] = useState<LightClientStatus | null>(null)
  const [fatal, setFatal] = useState<WireError | null>(null)
  useEffect(() => {
    const conn = connectLightClient((msg) => {
      if (msg.type === 'status') setStatus(msg.status)
      else if (msg.type === 'fatal') setFatal(msg.error)
    })
    return () => { conn.stop() }
  }, [])
  return { status, fatal }
}
