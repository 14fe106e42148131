#!/usr/bin/env node
// The `coffer` command: runs the TypeScript sources through tsx, after the Node 20 polyfills.
import { register } from 'tsx/esm/api'
register()
await import('../net/polyfills.ts')
await import('./cli.ts')
