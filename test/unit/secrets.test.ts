import fc from 'fast-check';
import { secretRefusal, underPrefix } from '../../src/config/secrets';

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
    // Encoded slashes, backslashes and dots, in either case and encoded again: the server may decode them.
    ['https://host/octopus', 'https://host/octopus/..%2fsteal/api', false],
    ['https://host/octopus', 'https://host/octopus/..%2Fsteal/api', false],
    ['https://host/octopus', 'https://host/octopus/%2e%2e%2fsteal', false],
    ['https://host/octopus', 'https://host/octopus/%2E%2E%2Fsteal', false],
    ['https://host/octopus', 'https://host/octopus/%252e%252e%252fsteal', false],
    ['https://host/octopus', 'https://host/octopus/..%25252fsteal', false],
    ['https://host/octopus', 'https://host/octopus/..%5csteal', false],
    // A stray `%` stopped all decoding, while a lenient server decodes the valid escapes around it:
    // `%25%32%65` is `%2e` once decoded, `.` twice.
    ['https://host/octopus', 'https://host/octopus/%25%32%65%25%32%65%25%32%66steal/%zz', false],
    ['https://host/octopus', 'https://host/octopus/..%2%66steal', false],
    ['https://host/octopus', 'https://host/octopus/%%32%65%%32%65/steal', false],
    ['https://host/octopus', 'https://host/octopus/..%5Csteal', false],
    ['https://host/octopus', 'https://host/octopus/..%255csteal', false],
    ['https://host/octopus', 'https://host/octopus\\..\\steal', false], // read as /octopus/../steal
    ['https://host/octopus', 'https://host/octopus/%2e%2e/steal', false], // a dot segment to URL too
    ['https://host/octopus', 'https://host/octopus/..;/steal', false], // Tomcat's `..;`
    ['https://host/octopus', 'https://host/octopus/..%3b/steal', false],
    ['https://host/octopus', 'https://host/octopus/a%00b', false],
    ['https://host/octopus', 'https://host/octopus/release%2ejson', false],
    ['https://host/octopus', 'https://host/octo%70us/api', true], // decoded, it is /octopus/api
    ['https://host/octopus', 'https://host/octopus/api?next=..%2f..%2fsteal', true], // the query is no path
    ['https://host/octopus', 'https://host/octopus/50%25-off', true],
  ])('%s admits %s: %s', (prefix, url, admitted) => {
    expect(underPrefix(prefix, url)).toBe(admitted);
  });

  test('a URL with an encoded slash or dot is refused with a reason that says so, bound or not', () => {
    const bindings = new Map([['octopus', ['https://host/octopus']]]);
    for (const url of ['https://host/octopus/..%2fsteal/api', 'https://host/octopus/..%252Fsteal/api'])
      expect(secretRefusal('octopus', url, bindings)).toMatch(
        /^secret "octopus" may not be sent to https:\/\/host\/octopus\/\.\.%(?:25)?2[fF]steal\/api: its path holds an encoded slash, backslash or dot/,
      );
    expect(secretRefusal('octopus', 'https://host/octopus/..;/steal', bindings)).toMatch(/dot segment/);
    expect(secretRefusal('octopus', 'https://host/octopus/api', bindings)).toBeNull();
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

  test('no admitted URL leaves the bound path however many times the server decodes it', () => {
    const part = fc.constantFrom(
      '..',
      '.',
      '/',
      '\\',
      ';',
      '%',
      '25',
      '2f',
      '2F',
      '2e',
      '5c',
      '3b',
      '00',
      'steal',
      'a',
      'zz',
      '32',
      '65',
      '66',
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 14 }), (parts) => {
        const url = `https://host/octopus/${parts.join('')}`;
        if (!underPrefix('https://host/octopus', url)) return;
        // What a server, or a chain of proxies, may read: decoded up to four times, backslashes as slashes,
        // `;parameters` cut from each segment (Tomcat), dot segments resolved.
        let path = new URL(url).pathname;
        for (let i = 0; i < 4; i++) {
          // Leniently, as many servers do: each valid escape decoded, a stray `%` kept.
          path = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
          const read = path
            .replaceAll('\\', '/')
            .split('/')
            .map((segment) => segment.split(';')[0])
            .join('/');
          const resolved = new URL(`https://h${read.startsWith('/') ? '' : '/'}${read}`).pathname;
          expect(resolved === '/octopus' || resolved.startsWith('/octopus/')).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
