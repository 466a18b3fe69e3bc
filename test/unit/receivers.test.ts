import { DOCKER_HUB_CALLBACK_ORIGIN, dockerHubCallbackTarget } from '../../src/api/receivers';
import { canonicalJson, deliveryKeys, distributionDeliveryKeys } from '../../src/receivers/notifications';
import { RECEIVER_VERIFICATION, ReceiverSpecSchema, ReceiverType } from '../../src/receivers/spec';

describe("Docker Hub's callback_url", () => {
  const HOOK = '/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/';
  test.each([
    [`${DOCKER_HUB_CALLBACK_ORIGIN}${HOOK}`, null, true], // the payload Docker Hub documents
    [`${DOCKER_HUB_CALLBACK_ORIGIN}/u/library/nginx/hook/abc123`, null, true],
    [`http://registry.hub.docker.com${HOOK}`, null, false],
    [`https://registry.hub.docker.com:8443${HOOK}`, null, false],
    [`https://registry.hub.docker.com.evil.example${HOOK}`, null, false],
    [`https://user:pw@registry.hub.docker.com${HOOK}`, null, false],
    [`https://hub.docker.com${HOOK}`, null, false],
    [`${DOCKER_HUB_CALLBACK_ORIGIN}/v2/users/login`, null, false],
    [`${DOCKER_HUB_CALLBACK_ORIGIN}${HOOK}../../../../v2/users/login`, null, false],
    [`${DOCKER_HUB_CALLBACK_ORIGIN}/u/a/b/hook/x%2f..%2f..%2fv2/`, null, false],
    [`${DOCKER_HUB_CALLBACK_ORIGIN}${HOOK}?next=/v2`, null, false],
    [`${DOCKER_HUB_CALLBACK_ORIGIN}${HOOK}#x`, null, false],
    [`http://127.0.0.1:9000${HOOK}`, null, false], // loopback: only when configured
    [`http://127.0.0.1:9000${HOOK}`, 'http://127.0.0.1:9000', true],
    [`http://127.0.0.1:9001${HOOK}`, 'http://127.0.0.1:9000', false],
    [`http://127.0.0.1:9000/admin`, 'http://127.0.0.1:9000', false],
    ['not a url', null, false],
    [42, null, false],
  ])('%s (stand-in %s): %s', (url, standIn, allowed) => {
    expect(dockerHubCallbackTarget(url, standIn) !== null).toBe(allowed);
  });
});

describe('delivery keys', () => {
  const notice = {
    events: [
      {
        id: 'e-1',
        action: 'push',
        target: { repository: 'a/b', tag: '1.0.0' },
        request: { host: 'r.example' },
      },
      { id: 'e-2', action: 'pull', target: { repository: 'a/b', tag: '1.0.0' } },
    ],
  };
  const text = JSON.stringify(notice);
  const respaced = `{ "events" : [ {"target":{"tag":"1.0.0", "repository":"a/b"},"request":{"host":"r.example"},
    "action":"push","id":"e-1"}, {"target":{"tag":"1.0.0","repository":"a/b"},"action":"pull","id":"e-2"} ] }`;
  const keysOf = (type: ReceiverType, raw: string) =>
    deliveryKeys(
      ReceiverSpecSchema.parse({
        name: 'r',
        type,
        ...(RECEIVER_VERIFICATION[type].secret === 'required' ? { secret: { secret: 's' } } : {}),
      }),
      Buffer.from(raw),
      {},
      JSON.parse(raw),
    );

  test('canonical JSON sorts keys and drops whitespace, at any depth, without recursion', () => {
    expect(canonicalJson(JSON.parse(respaced))).toBe(canonicalJson(notice));
    expect(canonicalJson({ b: [1, { d: null, c: 'x' }], a: true })).toBe(
      '{"a":true,"b":[1,{"c":"x","d":null}]}',
    );
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    expect(canonicalJson(deep)).toHaveLength(400_000);
  });

  test.each(['distribution', 'harbor', 'ecr'] as const)(
    'a %s notification (a header proves the sender) re-spaced, its keys reordered, has the same keys',
    (type) => {
      expect(keysOf(type, respaced)).toEqual(keysOf(type, text));
    },
  );

  test("a distribution notification's keys: the id of each push event, and its canonical body", () => {
    const keys = keysOf('distribution', text);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^delivery:/);
    expect(keys[1]).toMatch(/^json:/);
    expect(distributionDeliveryKeys(notice, false)).toEqual([keys[0]]);
  });

  test('numbers JSON.stringify cannot write keep a key of their own: 1e400 is not null', () => {
    const keys = (number: string) =>
      keysOf('distribution', text.replace('"action":"push"', `"action":"push","size":${number}`));
    expect(new Set(['1e400', '-1e400', 'null'].map((n) => keys(n)[1])).size).toBe(3);
    expect(canonicalJson(JSON.parse('[1e400,-1e400,null]'))).toBe('[Infinity,-Infinity,null]');
  });

  test('a batch holding an event seen before and a new one has a key of its own: the new push is not a replay', () => {
    const event = (id: string, tag: string) => ({
      id,
      action: 'push',
      target: { repository: 'a/b', tag },
    });
    const once = distributionDeliveryKeys({ events: [event('e-1', '1.0.0')] }, true);
    const batch = distributionDeliveryKeys({ events: [event('e-1', '1.0.0'), event('e-2', '1.1.0')] }, true);
    expect(batch.filter((key) => once.includes(key))).toEqual([]);
    // The same batch retried, its events in another order, is the same delivery.
    const retried = distributionDeliveryKeys(
      { events: [event('e-2', '1.1.0'), event('e-1', '1.0.0')] },
      true,
    );
    expect(retried[0]).toBe(batch[0]);
  });

  test('a body signature covers the bytes: re-spaced is another body', () => {
    expect(keysOf('generic-hmac', respaced)).not.toEqual(keysOf('generic-hmac', text));
  });
});
