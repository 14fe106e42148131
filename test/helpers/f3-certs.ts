// A certificate chain signed by real BLS keys of a few participants, for tests of what takes certificates
// (the tab's sync, the exchange codec): genesis-like base, an instance per `every` epochs, two of three signing.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import {
  assembleCertificate, proposalSigningPayload, f3Sign, tipSetKeyBytes, powerTableCid, chainCid, sortPowerTable, blsPublicKey,
  type FinalityCertificate, type FinalityState, type PowerEntry, type F3TipSet
} from '../../src/core'

export interface TestCertChain {
  participants: PowerEntry[]
  start: FinalityState
  certs: FinalityCertificate[]
}

export function testCertChain (network: string, count: number, every = 20): TestCertChain {
  const secrets = [1, 2, 3].map(i => bls12_381.utils.randomSecretKey(Uint8Array.from({ length: 48 }, (_, j) => (i * 13 + j) % 251 + 1)))
  const participants = sortPowerTable(secrets.map((sk, i) => ({ id: 1001 + i, power: 32n << 30n, pubKey: blsPublicKey(sk) })))
  const pt = powerTableCid(participants)
  const tipset = (epoch: number): F3TipSet => ({ epoch, key: tipSetKeyBytes([chainCid(Uint8Array.of(epoch & 0xff, epoch >> 8))]), powerTable: pt, commitments: new Uint8Array(32) })
  const certs: FinalityCertificate[] = []
  let base = tipset(0)
  for (let i = 0; i < count; i++) {
    const head = tipset((i + 1) * every)
    const p = { network, instance: i, ecChain: [base, head], powerTable: participants, nextPowerTable: participants }
    const payload = proposalSigningPayload(p)
    certs.push(assembleCertificate(p, new Map([0, 1].map(j => [j, f3Sign(secrets[participants[j]!.id - 1001]!, payload)]))))
    base = head
  }
  return { participants, start: { network, nextInstance: 0, powerTable: participants, finalized: tipset(0) }, certs }
}
