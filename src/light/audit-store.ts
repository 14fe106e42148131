// What the tab keeps of each spot audit it ran (in the deals database's `audits` store, deal-store.ts version 2):
// enough to draw it on the deal's timeline, show its figures, and judge the provider next time the tab chooses.
import type { Epoch } from '../core'

export type AuditOutcome = 'passed' | 'failed' | 'unanswered'

/**
 * failed: the provider answered wrongly (BAD_PATH, WRONG_LEAVES, WRONG_NONCE, MALFORMED) or said it cannot prove
 * the deal it is paid for (LOST, NOT_FOUND); unanswered: DEADLINE, UNREACHABLE, or REFUSED (busy, an internal error).
 */
export type AuditReason = 'BAD_PATH' | 'WRONG_LEAVES' | 'WRONG_NONCE' | 'MALFORMED' | 'LOST' | 'NOT_FOUND' | 'DEADLINE' | 'UNREACHABLE' | 'REFUSED'

export interface AuditRecord {
  /** `${dealId}/${startedAtMs}`. */
  key: string
  dealId: number
  /** The deal's provider (t0…), from the verified deal record. */
  provider: string
  pieceCid: string
  trigger: 'manual' | 'schedule'
  /** The tab's verified head when the audit was sent: where it is drawn on the timeline. */
  epoch: Epoch
  startedAtMs: number
  /** The leaves drawn (indexes into the padded piece), in the order asked. */
  leaves: number[]
  outcome: AuditOutcome
  reason?: AuditReason
  message?: string
  /** From sending the request (dial included) to the whole answer read. */
  roundTripMs?: number
  /** The WASM verifier's check of every returned path. */
  verifyMs?: number
}

/** The audit schedule while a tab is open: minutes between audits of each live deal, 0 = off. */
export const AUDIT_SCHEDULE_SETTING = 'auditEveryMinutes'
/**
 * Hourly by default: about what a user expects of a background check (a phone's backup check, a monitoring probe),
 * and cheap for both sides (one answer is ~20 KiB; the provider reads at most 8 segments). Choices the view offers.
 */
export const DEFAULT_AUDIT_EVERY_MINUTES = 60
export const AUDIT_SCHEDULE_CHOICES = [0, 10, 60, 360] as const
