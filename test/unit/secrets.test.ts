import { secretRefusal, underPrefix } from '../../src/secrets';

describe('secret bindings', () => {
  test.each([
    ['https://ci.example.com/hooks/', 'https://ci.example.com/hooks/release', true],
    ['https://ci.example.com/hooks', 'https://ci.example.com/hooks', true],
    ['https://ci.example.com/hooks', 'https://ci.example.com/hooks/release', true],
    ['https://ci.example.com/hooks', 'https://ci.example.com/hooksevil', false],
    ['https://ci.example.com/hooks/', 'https://ci.example.com/other', false],
    ['https://ci.example.com/', 'http://ci.example.com/hooks', false], // scheme downgrade
    ['https://ci.example.com/', 'https://ci.example.com:8443/hooks', false], // another port
    ['https://ci.example.com/', 'https://ci.example.com.evil.example/hooks', false],
    ['https://ci.example.com/', 'https://user:pw@ci.example.com/hooks', false],
    ['https://ci.example.com/', 'not a url', false],
    ['https://ci.example.com/a/', 'https://ci.example.com/a/../b', false], // normalised to /b by URL
    // ssh:// remotes name their login user, which the binding must name too.
    ['ssh://git@git.example.com/team/', 'ssh://git@git.example.com/team/deploy.git', true],
    ['ssh://git@git.example.com/team/', 'ssh://root@git.example.com/team/deploy.git', false],
    ['ssh://git@git.example.com/team/', 'ssh://git@git.example.com:2222/team/deploy.git', false],
    ['https://git.example.com/team/', 'ssh://git@git.example.com/team/deploy.git', false],
  ])('%s admits %s: %s', (prefix, url, admitted) => {
    expect(underPrefix(prefix, url)).toBe(admitted);
  });

  test('a refusal reads the same for an unknown name and a name bound elsewhere', () => {
    const bindings = new Map([['hook', ['https://ci.example.com/hooks/']]]);
    expect(secretRefusal('hook', 'https://ci.example.com/hooks/x', bindings)).toBeNull();
    const bound = secretRefusal('hook', 'https://evil.example/x?token=1', bindings);
    const unknown = secretRefusal('other', 'https://evil.example/x?token=1', bindings);
    expect(bound).toBe(
      'secret "hook" may not be sent to https://evil.example/x: the worker configuration must bind it there (secrets.hook.sendTo)',
    );
    expect(unknown).toBe(bound!.replace(/hook/g, 'other'));
  });
});
