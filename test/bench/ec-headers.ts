// Expected Consensus header checks (issue 13's figure): a header now carries several signatures (its beacon
// entries, the election proof's VRF, the ticket's VRF and the block signature), so verifying one costs more
// pairings than today's single-producer header. Measured in Node on the synthetic three-miner chain
// (test/helpers/ec-chain.ts, mined with makeEcHeader), against the same run's single-producer headers
// (validateHeader: one BLS signature) as the reference. The worker figure comes when the light client checks them.
import { bls12_381 } from '@noble/curves/bls12-381.js'
import { createGenesis, produceHeader, idAddressBytes, blsPublicKey, validateHeader, type SealedHeader } from '../../src/core'
import { mineSyntheticChain, tipsets, validate } from '../helpers/ec-chain'
import { TEST_BEACON, testBeaconEntries } from '../helpers/test-beacon'

const fmt = (n: number, digits = 1): string => n.toFixed(digits)

export function benchEcHeaders (epochs = Number(process.env.BENCH_EC_EPOCHS ?? 40)): void {
  const t0 = performance.now()
  mineSyntheticChain({ epochs, log: false })
  const blocks = tipsets.slice(1).flatMap(t => t.blocks)
  const mineMs = performance.now() - t0
  validate(blocks[0]!) // warm noble's tables
  let t = performance.now()
  for (const b of blocks) validate(b)
  const ecPerSec = blocks.length / ((performance.now() - t) / 1000)
  const signatures = blocks.reduce((n, b) => n + 3 + b.header.beaconEntries.length, 0)

  // the reference: as many single-producer headers, each with its one signature
  const key = bls12_381.longSignatures.keygen().secretKey
  const genesis = createGenesis({ beacon: TEST_BEACON, network: 'bench', producer: idAddressBytes(1000), producerKey: blsPublicKey(key), blockDelaySecs: 1 }, 1_800_000_000)
  const chain: SealedHeader[] = [genesis.header]
  for (let i = 0; i < blocks.length; i++) chain.push(produceHeader(chain[i]!, genesis, key, 1_800_000_001 + i, testBeaconEntries(chain[i]!, genesis)))
  validateHeader(chain[1]!, chain[0]!, genesis, 1_900_000_000)
  t = performance.now()
  for (let i = 1; i < chain.length; i++) validateHeader(chain[i]!, chain[i - 1]!, genesis, 1_900_000_000)
  const singlePerSec = blocks.length / ((performance.now() - t) / 1000)

  console.log(`\nExpected Consensus headers, Node: ${blocks.length} blocks in ${tipsets.length - 1} tipsets over ${epochs} epochs (mined in ${fmt(mineMs / 1000)} s), ${fmt(signatures / blocks.length, 2)} signatures a block`)
  console.log(`  reference (single-producer validateHeader, one signature): ${fmt(singlePerSec)} headers/s`)
  console.log(`  validateEcBlock (beacon, election, ticket, block signature): ${fmt(ecPerSec)} headers/s = ${fmt(ecPerSec / singlePerSec, 3)}x reference`)
}
