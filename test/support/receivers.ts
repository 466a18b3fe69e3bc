import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ReceiverType } from '../../src/receivers/spec';

/** Receiver secrets the receiver tests and the receivers benchmark configure. */
export const SECRETS = new Map([
  ['hook-auth', 'Harb0r-And-Distributi0n-Auth'],
  ['github-hook', 'GitHub-Hm4c-Secret'],
  ['ecr-key', 'Ecr-Ap1-Key'],
  ['ci-hook', 'Ci-Hm4c-Secret'],
]);

/** A provider-shaped payload from test/fixtures/webhooks with its placeholders filled. */
export function fixture(name: string, values: Record<string, string>): string {
  let text = readFileSync(path.resolve(__dirname, '../fixtures/webhooks', `${name}.json`), 'utf8');
  // Each notification is a new delivery unless the test says otherwise (receivers ignore replays).
  const filled = { MESSAGE_ID: String(randomInt(1e12, 2 ** 47)), EVENT_ID: randomUUID(), ...values };
  for (const [k, v] of Object.entries(filled)) text = text.replaceAll(`__${k}__`, v);
  return text;
}

export const hmac = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** One receiver type: how it is created, the repository it speaks for, and a signed notification of a tag. */
export interface ReceiverCase {
  readonly type: ReceiverType;
  readonly extra?: Record<string, unknown>;
  readonly repository: string;
  notify(tag: string): { body: string; headers: Record<string, string> };
}

/** Every receiver type, against the local registry's host and a Docker Hub callback stand-in. */
export function receiverCases(registryHost: () => string, hubUrl: () => string): ReceiverCase[] {
  const registry = {
    get host() {
      return registryHost();
    },
  };
  const hub = {
    get url() {
      return hubUrl();
    },
  };
  return [
    {
      type: 'distribution',
      extra: { secret: { secret: 'hook-auth' } },
      repository: 'hooks/distribution',
      notify: (tag) => ({
        body: fixture('distribution', { REPOSITORY: 'hooks/distribution', TAG: tag, HOST: registry.host }),
        headers: { authorization: `Bearer ${SECRETS.get('hook-auth')}` },
      }),
    },
    {
      type: 'dockerhub',
      extra: { feed: 'local' },
      repository: 'hooks/dockerhub',
      notify: (tag) => ({
        body: fixture('dockerhub', {
          REPOSITORY: 'hooks/dockerhub',
          TAG: tag,
          CALLBACK: `${hub.url}/u/hooks/dockerhub/hook/cb/`,
        }),
        headers: {},
      }),
    },
    {
      type: 'github',
      extra: { secret: { secret: 'github-hook' }, feed: 'local' },
      repository: 'hooks/github',
      notify: (tag) => {
        const body = fixture('github-registry_package', { OWNER: 'hooks', NAME: 'github', TAG: tag });
        return {
          body,
          headers: {
            'x-github-event': 'registry_package',
            'x-github-delivery': randomUUID(),
            'x-hub-signature-256': hmac(SECRETS.get('github-hook')!, body),
          },
        };
      },
    },
    {
      type: 'harbor',
      extra: { secret: { secret: 'hook-auth' } },
      repository: 'hooks/harbor',
      notify: (tag) => ({
        body: fixture('harbor', {
          REPOSITORY: 'hooks/harbor',
          OWNER: 'hooks',
          NAME: 'harbor',
          TAG: tag,
          HOST: registry.host,
        }),
        headers: { authorization: SECRETS.get('hook-auth')! },
      }),
    },
    {
      type: 'quay',
      repository: 'hooks/quay',
      notify: (tag) => ({
        body: fixture('quay', {
          REPOSITORY: 'hooks/quay',
          OWNER: 'hooks',
          NAME: 'quay',
          TAG: tag,
          HOST: registry.host,
        }),
        headers: {},
      }),
    },
    {
      type: 'gar',
      extra: { feed: 'local' },
      repository: 'gcp-project/hooks/gar',
      notify: (tag) => ({
        body: fixture('gar', {
          DATA: Buffer.from(
            fixture('gar-message', { REPOSITORY: 'gcp-project/hooks/gar', TAG: tag }),
          ).toString('base64'),
        }),
        headers: {},
      }),
    },
    {
      type: 'ecr',
      extra: { secret: { secret: 'ecr-key' }, feed: 'local' },
      repository: 'hooks/ecr',
      notify: (tag) => ({
        body: fixture('ecr', { REPOSITORY: 'hooks/ecr', TAG: tag }),
        headers: { 'x-api-key': SECRETS.get('ecr-key')! },
      }),
    },
    {
      type: 'generic-hmac',
      extra: { secret: { secret: 'ci-hook' } },
      repository: 'hooks/generic',
      notify: (tag) => {
        const body = JSON.stringify({ feed: 'local', package: 'hooks/generic', tag });
        return { body, headers: { 'x-signature-256': hmac(SECRETS.get('ci-hook')!, body) } };
      },
    },
  ];
}
