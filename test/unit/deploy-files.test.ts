import { GitTargetSchema } from '../../src/domain/project';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { ROLES } from '../../src/main';

const root = path.resolve(__dirname, '../..');

/** The production path: the image runs the CLI, compose runs one API and scalable workers on it. */
describe('Dockerfile and docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { command?: string[]; environment?: Record<string, string>; stop_grace_period?: string }
    >;
  };
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

  test('the image runs the CLI, serve by default, and drains on SIGTERM', () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/feed-triggers\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/readyz/m);
  });

  test('compose runs the api and worker roles on one Temporal server and ledger, with settings the service accepts', () => {
    const api = compose.services['feed-triggers-api'];
    const worker = compose.services['feed-triggers-worker'];
    expect([api.command, worker.command]).toEqual([['api'], ['worker']]);
    for (const role of [...api.command!, ...worker.command!]) expect(ROLES).toContain(role);
    expect(worker.environment).toEqual(api.environment);
    expect(api.environment).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: expect.stringMatching(/^postgres:\/\/.*\/feed_triggers$/),
    });
    expect(worker.stop_grace_period).toBe('60s');
    // What compose sets parses as the service parses its environment.
    const env = Object.fromEntries(
      Object.entries(api.environment!).map(([k, v]) => [k, v.replace(/^\$\{\w+:-(.*)\}$/, '$1')]),
    );
    delete env.FEED_TRIGGERS_CONFIG;
    expect(loadConfig({ ...env, FEED_TRIGGERS_API_HOST: '0.0.0.0' })).toMatchObject({
      logLevel: 'info',
      databaseUrl: env.DATABASE_URL,
      temporal: { address: 'temporal:7233' },
    });
  });
});

describe("a Git target's commit author", () => {
  const target = (author: { name: string; email: string }) =>
    GitTargetSchema.safeParse({
      name: 'gitops',
      type: 'git',
      url: 'https://git.example.com/deploy.git',
      files: [{ path: 'values.yaml', format: 'yaml', field: 'image.tag', package: 'web' }],
      author,
    });
  test('takes a plain name and address', () => {
    expect(target({ name: 'Release Bot', email: 'bot@example.com' }).success).toBe(true);
  });
  // A NUL byte cannot be in a process's environment (where git takes the author from): refused when given.
  test.each([
    ['a NUL in the name', { name: 'x\u0000y', email: 'bot@example.com' }, 'author.name'],
    ['a NUL in the address', { name: 'Bot', email: 'a\u0000@b' }, 'author.email'],
    ['an escape in the name', { name: 'x\u001b[31m', email: 'bot@example.com' }, 'author.name'],
    ['a line break in the name', { name: 'x\ny', email: 'bot@example.com' }, 'author.name'],
  ])('refuses %s, naming the field', (_what, author, field) => {
    const result = target(author);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual([field]);
  });
});
