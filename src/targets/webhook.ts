import { createHmac } from 'node:crypto';

/**
 * Webhooks, the one request shape both kinds of sending share: a release to a destination
 * (activities/deliver.ts) and a deployment to an environment's webhook target (activities/lifecycle.ts).
 */

/**
 * A webhook's request: the JSON body (plain, or a CloudEvents 1.0 structured envelope), the idempotency key
 * and, with a signing key, `X-Feed-Triggers-Signature: sha256=<HMAC of the body>`. Releases to destinations
 * and deployments to environments' webhook targets are both sent this way.
 */
export function webhookRequest(
  data: unknown,
  event: { id: string; source: string; type: string; subject: string; time: string },
  options: { cloudEvents: boolean; signingKey: string | null },
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(
    options.cloudEvents ? { specversion: '1.0', ...event, datacontenttype: 'application/json', data } : data,
  );
  const headers: Record<string, string> = {
    'content-type': options.cloudEvents ? 'application/cloudevents+json' : 'application/json',
    'idempotency-key': event.id,
    'user-agent': 'feed-triggers',
  };
  if (options.signingKey !== null)
    headers['x-feed-triggers-signature'] =
      `sha256=${createHmac('sha256', options.signingKey).update(body).digest('hex')}`;
  return { body, headers };
}

/** A status that retrying cannot fix: a 4xx other than timeouts and rate limits. */
export function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429;
}
