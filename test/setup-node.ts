// Node-side test setup: the same polyfill the CLI installs, an in-memory IndexedDB for the light client, and a
// watchdog that names and ends a test whose event loop stops turning (test/helpers/loop-watchdog.ts).
import '../src/net/polyfills'
import 'fake-indexeddb/auto'
import { beforeEach, expect } from 'vitest'
import { startLoopWatchdog } from './helpers/loop-watchdog'

const watchdog = startLoopWatchdog(expect.getState().testPath ?? '(a test file)')
beforeEach(() => { watchdog.running(expect.getState().currentTestName ?? '(a test)') })
