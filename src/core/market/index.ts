// The storage market's formats and stateless rules (deal proposals); escrow and deal states follow.
export * from './deal-proposal'
