// Node-side test setup: the same polyfill the CLI installs, and an in-memory IndexedDB for the light client.
import '../src/net/polyfills'
import 'fake-indexeddb/auto'
