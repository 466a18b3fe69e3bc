import { DOCKER_HUB_CALLBACK_ORIGIN, dockerHubCallbackTarget } from '../../src/api/receivers';

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
