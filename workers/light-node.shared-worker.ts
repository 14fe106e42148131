// The shared light node's entry (one for every tab of the app): everything lives in src/light/shared-node.ts.
import '../src/net/polyfills'
import { runSharedLightNode } from '../src/light/shared-node'

runSharedLightNode(self as unknown as Parameters<typeof runSharedLightNode>[0])
