// The init actor (f01): creates actors (here: payment channels) and maps their robust f2 addresses to IDs.
export * from './init-state'
export * from './actor-address'
export * from './init-actor'
