import { Kysely } from 'kysely';
import type { Verdict } from '../supply-chain/gate';
import type { Schema } from './schema';

/** A verdict as remembered, with when it was reached. */
export interface StoredVerdict extends Verdict {
  readonly digest: string;
  readonly at: string;
}

/** Where verdicts on image digests are remembered: the ledger, or a worker's memory in tests. */
export interface VerdictMemory {
  get(digest: string, rule: string): Promise<StoredVerdict | null>;
  put(digest: string, rule: string, verdict: Verdict): Promise<void>;
  /** Every verdict on these digests that passed, by digest: what a release shows as verified. */
  passedFor(digests: readonly string[]): Promise<StoredVerdict[]>;
}

/** Verdicts of signature and platform rules per image digest and rule, in the ledger database. */
export class VerdictStore implements VerdictMemory {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(digest: string, rule: string): Promise<StoredVerdict | null> {
    const row = await this.db
      .selectFrom('image_verdicts')
      .selectAll()
      .where('digest', '=', digest)
      .where('rule', '=', rule)
      .executeTakeFirst();
    return row ? toVerdict(row) : null;
  }

  async put(digest: string, rule: string, verdict: Verdict): Promise<void> {
    await this.db
      .insertInto('image_verdicts')
      .values({
        digest,
        rule,
        passed: verdict.passed,
        reason: verdict.reason.slice(0, 500),
        key_name: verdict.key?.name ?? null,
        key_fingerprint: verdict.key?.fingerprint ?? null,
        attestation_digest: verdict.attestation ?? null,
        verified_at: new Date(),
      })
      // Two workers verifying at once reach the same verdict: the first stays.
      .onConflict((oc) => oc.columns(['digest', 'rule']).doNothing())
      .execute();
  }

  async passedFor(digests: readonly string[]): Promise<StoredVerdict[]> {
    if (digests.length === 0) return [];
    const rows = await this.db
      .selectFrom('image_verdicts')
      .selectAll()
      .where('digest', 'in', [...digests])
      .where('passed', '=', true)
      .orderBy('verified_at')
      .limit(100)
      .execute();
    return rows.map(toVerdict);
  }
}

function toVerdict(row: {
  digest: string;
  passed: boolean;
  reason: string;
  key_name: string | null;
  key_fingerprint: string | null;
  attestation_digest: string | null;
  verified_at: Date;
}): StoredVerdict {
  return {
    digest: row.digest,
    passed: row.passed,
    reason: row.reason,
    key:
      row.key_name !== null && row.key_fingerprint !== null
        ? { name: row.key_name, fingerprint: row.key_fingerprint }
        : null,
    ...(row.attestation_digest !== null ? { attestation: row.attestation_digest } : {}),
    at: row.verified_at.toISOString(),
  };
}

/** Verdicts in memory only: a worker without a ledger (tests, benches). */
export class MemoryVerdicts implements VerdictMemory {
  private readonly verdicts = new Map<string, StoredVerdict>();

  async get(digest: string, rule: string): Promise<StoredVerdict | null> {
    return this.verdicts.get(`${digest}|${rule}`) ?? null;
  }

  async put(digest: string, rule: string, verdict: Verdict): Promise<void> {
    const key = `${digest}|${rule}`;
    if (!this.verdicts.has(key)) this.verdicts.set(key, { ...verdict, digest, at: new Date().toISOString() });
  }

  async passedFor(digests: readonly string[]): Promise<StoredVerdict[]> {
    return [...this.verdicts.values()].filter((v) => v.passed && digests.includes(v.digest));
  }
}
