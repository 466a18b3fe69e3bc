/**
 * Retention: how many releases a project or a channel keeps. A release goes when it is beyond the last
 * `keepLast` of its channel and (when `keepDays` is set) older than that many days; a policy with only
 * `keepDays` keeps every release of the last days. Whatever the policy, a release deployed in an
 * environment, one in flight and the newest of its channel stay (src/db/retention.ts).
 */
import { z } from 'zod';

export const RetentionPolicySchema = z
  .strictObject({
    /** Keep at least the newest N releases of each channel. */
    keepLast: z.number().int().min(1).max(1_000_000).optional(),
    /** Keep every release newer than D days. */
    keepDays: z.number().int().min(1).max(36_500).optional(),
  })
  .refine((p) => p.keepLast !== undefined || p.keepDays !== undefined, {
    message: 'give keepLast, keepDays or both',
  });
export type RetentionPolicy = z.infer<typeof RetentionPolicySchema>;

/** `last 10, newer than 30 days`: a policy as the audit log says it. */
export function describeRetention(policy: RetentionPolicy): string {
  return [
    policy.keepLast !== undefined ? `last ${policy.keepLast}` : null,
    policy.keepDays !== undefined ? `newer than ${policy.keepDays} days` : null,
  ]
    .filter((p) => p !== null)
    .join(', ');
}
