// The shared light node's entry (one for every tab of the app): everything lives in src/light/shared-node.ts; this
// file only installs the WASM cipher its noise sessions use (src/net/noise-crypto.ts) before the node starts.
import '../src/net/polyfills'
import { runSharedLightNode } from '../src/light/shared-node'
import { installNoiseAead } from '../src/net/noise-crypto'
import { browserAead } from './aead-browser'

installNoiseAead(browserAead)
runSharedLightNode(self as unknown as Parameters<typeof runSharedLightNode>[0])
