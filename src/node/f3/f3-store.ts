// Where a node keeps F3: every certificate it accepted (by instance, as go-f3's CBOR), the state the last
// one left (next instance, finalized tipset, power table), written in the same batch as the certificate so
// a killed process never holds one without the other; and each local participant's vote per instance,
// written to disk (synced) before the vote leaves the process, so a restart never signs a second value.
import {
  encodeCertificate, decodeCertificate, encodeF3Vote, decodeF3Vote, encodeFinalityState, decodeFinalityState,
  type FinalityCertificate, type FinalityState, type F3Vote
} from '../../core'
import type { ChainDb } from '../chain-db'

const certKey = (instance: number): string => `f3/cert/${String(instance).padStart(16, '0')}`
const voteKey = (participant: number, instance: number): string => `f3/vote/${participant}/${String(instance).padStart(16, '0')}`
const STATE_KEY = 'f3/state'

export class F3Store {
  constructor (private readonly db: ChainDb) {}

  async loadState (): Promise<FinalityState | null> {
    const bytes = await this.db.getBytes(STATE_KEY)
    return bytes === undefined ? null : decodeFinalityState(bytes)
  }

  /** Stores `cert` and the state after it, in one batch. */
  async accept (cert: FinalityCertificate, after: FinalityState): Promise<void> {
    await this.db.putAll({ [certKey(cert.instance)]: encodeCertificate(cert), [STATE_KEY]: encodeFinalityState(after) })
  }

  async certificateBytes (instance: number): Promise<Uint8Array | undefined> { return await this.db.getBytes(certKey(instance)) }

  async certificate (instance: number): Promise<FinalityCertificate | undefined> {
    const b = await this.certificateBytes(instance)
    return b === undefined ? undefined : decodeCertificate(b)
  }

  /** Stored certificates from `first` to `last`, as bytes, stopping at the first one missing. */
  async * certificatesBytes (first: number, last: number, batch = 64): AsyncGenerator<Uint8Array> {
    for (let from = first; from <= last; from += batch) {
      const keys = Array.from({ length: Math.min(batch, last - from + 1) }, (_, i) => certKey(from + i))
      for (const b of await this.db.getManyBytes(keys)) {
        if (b === undefined) return
        yield b
      }
    }
  }

  async vote (participant: number, instance: number): Promise<F3Vote | undefined> {
    const b = await this.db.getBytes(voteKey(participant, instance))
    return b === undefined ? undefined : decodeF3Vote(b)
  }

  /** Records `vote` on disk (synced) before the caller may send it. */
  async recordVote (vote: F3Vote): Promise<void> {
    await this.db.putAll({ [voteKey(vote.sender, vote.instance)]: encodeF3Vote(vote) }, { sync: true })
  }
}
