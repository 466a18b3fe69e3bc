import { metrics } from '../src/observability/metrics';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeliverInput, DeliverResult, DeliveryActivities } from '../workflows/contracts/activities';
import type { Destination, ProjectRelease } from '../src/domain/project';
import { Ledger } from '../src/db/ledger';
import type { StoredRelease } from '../src/db/ledger-records';
import { HttpClient } from '../src/net/http';
import { withLiveness } from './liveness';
import { FailureCode } from '../src/domain/failures';
import { bindingsOf, NamedSecret, secretRefusal } from '../src/config/secrets';
import { octopusReleasesUrl } from '../src/domain/destination-urls';
import { octopusErrorText, octopusReleaseBody } from '../src/targets/octopus';
import { permanent, webhookRequest } from '../src/targets/webhook';

export interface DeliveryDependencies {
  readonly ledger: Ledger;
  readonly http: HttpClient;
  /** Secret values by name with the URL prefixes each may go to, from the worker's configuration. */
  readonly secrets: ReadonlyMap<string, NamedSecret>;
}

/** What a destination receives: the release, without delivery bookkeeping; `notes` when its channel makes them. */
export function releasePayload(project: string, release: ProjectRelease & { readonly notes: string | null }) {
  return {
    project,
    release: release.number,
    channel: release.channel,
    createdAt: release.createdAt,
    reason: release.reason,
    packages: release.packages.map((p) => ({
      name: p.name,
      feed: p.feed,
      package: p.package,
      tag: p.tag,
      digest: p.digest,
    })),
    ...(release.notes !== null ? { notes: release.notes } : {}),
  };
}

/**
 * The same for every attempt at one release, so a receiver can drop repeats; the creation time tells a
 * re-created project's release 0.0.1 from the deleted one's.
 */
export function idempotencyKey(project: string, release: ProjectRelease): string {
  return `feed-triggers:${project}:${release.number}:${Date.parse(release.createdAt)}`;
}

function rejected(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureCode.DESTINATION_REJECTED, message, nonRetryable: true });
}

function retryable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureCode.DESTINATION_UNAVAILABLE, message });
}

/** The request left but no answer came back (refused, dropped, timed out): it may have been received. */
function unanswered(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureCode.DESTINATION_UNAVAILABLE,
    message,
    details: ['unanswered'],
  });
}

/** Activities that hand a recorded release to its destinations. */
export function createDeliveryActivities(deps: DeliveryDependencies): DeliveryActivities {
  const bindings = bindingsOf(deps.secrets);
  /** A secret's value for a request to `url`, checked against its binding right before sending. */
  const secret = (name: string, destination: string, url: string): string => {
    const refusal = secretRefusal(name, url, bindings);
    // Retryable: the release waits, visibly, until the worker's configuration allows it. The text is the
    // same for an unknown name, so the delivery status does not reveal which secrets exist.
    if (refusal !== null) throw retryable(`destination ${destination}: ${refusal}`);
    return deps.secrets.get(name)!.value;
  };

  async function post(url: string, headers: Record<string, string>, body: string, destination: string) {
    try {
      return await withLiveness(
        (signal) =>
          deps.http.request(url, {
            method: 'POST',
            headers,
            body,
            maxBytes: 1024 * 1024,
            timeoutMs: 30_000,
            signal,
          }),
        { destination },
      );
    } catch (err) {
      throw unanswered(`destination ${destination}: ${(err as Error).message}`);
    }
  }

  /** Sends a release to one destination; 2xx counts as delivered. Throws `rejected` or `retryable`. */
  async function send(project: string, release: StoredRelease, destination: Destination): Promise<void> {
    {
      const key = idempotencyKey(project, release);
      if (destination.type === 'webhook') {
        const { body, headers } = webhookRequest(
          releasePayload(project, release),
          {
            id: key,
            source: `feed-triggers/projects/${project}`,
            type: 'io.feed-triggers.release.created',
            subject: release.number,
            time: release.createdAt,
          },
          {
            cloudEvents: destination.cloudEvents,
            signingKey: destination.signingSecret
              ? secret(destination.signingSecret.secret, destination.name, destination.url)
              : null,
          },
        );
        const res = await post(destination.url, headers, body, destination.name);
        if (res.status >= 200 && res.status < 300) return;
        const message = `webhook ${destination.name} answered ${res.status}`;
        throw permanent(res.status) ? rejected(message) : retryable(message);
      }
      const body = octopusReleaseBody(destination, release.number, release.packages, release.notes);
      const url = octopusReleasesUrl(destination);
      const res = await post(
        url,
        {
          'content-type': 'application/json',
          'x-octopus-apikey': secret(destination.apiKey.secret, destination.name, url),
        },
        body,
        destination.name,
      );
      if (res.status >= 200 && res.status < 300) return;
      const text = res.body.toString('utf8').slice(0, 500);
      // A retry after a lost answer finds the release already there: Octopus refuses the same version twice.
      if (res.status === 400 && /already exists/i.test(text)) return;
      const detail = octopusErrorText(text);
      const message = `Octopus ${destination.name} answered ${res.status}${detail ? `: ${detail}` : ''}`;
      throw permanent(res.status) ? rejected(message) : retryable(message);
    }
  }

  return {
    /**
     * A few attempts at one delivery, the first steps of the backoff between them. Each is counted in the
     * ledger before the request leaves (attempt counts stay true across crashes), and each checks first
     * that the delivery still waits (a `latest` destination skips a superseded release). The outcome is
     * recorded and answered; only a ledger that cannot be reached throws.
     */
    async deliver(input: DeliverInput): Promise<DeliverResult> {
      for (let round = 0; ; round++) {
        const start = await deps.ledger.beginAttempt(input.releaseId, input.destination);
        if (start.kind === 'ended') {
          metrics.deliveries.inc({ state: start.status });
          return { status: start.status, attempt: null, error: null };
        }
        let status: 'delivered' | 'failed' | 'pending' = 'delivered';
        let error: string | null = null;
        let inDoubt = start.inDoubt;
        try {
          await send(input.project, start.release, start.destination);
        } catch (err) {
          if (!(err instanceof ApplicationFailure)) throw err;
          status = err.type === FailureCode.DESTINATION_REJECTED ? 'failed' : 'pending';
          error = err.message;
          if (err.details?.[0] === 'unanswered') inDoubt = true;
        }
        const recorded = await deps.ledger.recordAttempt(
          input.releaseId,
          input.destination,
          status,
          error,
          new Date(),
          inDoubt,
        );
        metrics.deliveries.inc({ state: status === 'pending' ? 'retrying' : recorded });
        if (recorded !== 'pending' || round + 1 >= input.backoff.quickTries)
          return { status: recorded, attempt: start.attempt, error };
        Context.current().heartbeat();
        await Context.current().sleep(Math.min(input.backoff.maxMs, input.backoff.initialMs * 2 ** round));
      }
    },
  };
}
