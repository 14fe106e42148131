// Light-client worker entry: everything lives in src/light; this file only hands it the worker's port.
import '../src/net/polyfills'
import { runLightClient, type Port } from '../src/light'

runLightClient(self as unknown as Port)
