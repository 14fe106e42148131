#!/usr/bin/env node
// The `coffer` command: runs the TypeScript sources through tsx, after the Node 20 polyfills.
import { register } from 'tsx/esm/api'
register()
await import('../net/polyfills.ts')
// Node 20 has no global WebSocket, and libp2p's ws transport dials with it (NOTES.md): `coffer retrieve` dials
// providers, and `coffer provider` and `coffer node` run full nodes that dial their peers, so they get the `ws`
// package's (the same API; listening never needed it)
if (['retrieve', 'provider', 'node'].includes(process.argv[2]) && typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = (await import('ws')).WebSocket
await import('./cli.ts')
