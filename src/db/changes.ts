import { Kysely, sql } from 'kysely';
import { CHANGES_CHANNEL } from './migrations';
import { Schema } from './schema';

/**
 * Announces a change on the ledger's notification channel (CHANGES_CHANNEL), which every API process
 * listens on: the database triggers of migration 0011 announce ledger writes the same way.
 */
export class ChangeStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async announce(payload: string): Promise<void> {
    await sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${payload})`.execute(this.db);
  }

  /** Announces that a trigger changed (as the API's trigger routes do), by name only. */
  async announceTrigger(project: string, trigger: string): Promise<void> {
    await this.announce(JSON.stringify({ kind: 'triggers', project, trigger }));
  }
}
