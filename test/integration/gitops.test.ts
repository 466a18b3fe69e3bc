import { GitPermanentError, GitWriteRequest, writeBack } from '../../src/gitops';
import { PERMISSIVE_OUTBOUND, STRICT_OUTBOUND } from '../../src/feeds/outbound';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitServer, startGitServer } from '../support/git-server';
import { SshGitServer, startSshGitServer } from '../support/ssh-git-server';

let git: GitServer;
/** Set by a test: runs once before the next push reaches the server. */
let beforeNextPush: (() => void) | null = null;
const TOKEN = 'gitops-token-abcdef';

const VALUES = `# Helm values for the shop
image:
  repository: registry.example.com/shop/web
  tag: 1.0.0 # set by feed-triggers
replicas: 2
`;

beforeAll(async () => {
  git = await startGitServer({
    token: TOKEN,
    beforePush: () => {
      const run = beforeNextPush;
      beforeNextPush = null;
      run?.();
    },
  });
});
afterAll(async () => {
  await git?.close();
});

const request = (url: string, over: Partial<GitWriteRequest> = {}): GitWriteRequest => ({
  url,
  branch: 'main',
  files: [
    {
      path: 'charts/shop/values.yaml',
      format: 'yaml',
      field: 'image.tag',
      use: 'tag',
      tag: '1.2.0',
      digest: null,
    },
  ],
  author: { name: 'feed-triggers', email: 'ft@example.com' },
  message: 'Deploy shop 0.0.3 to prod',
  token: TOKEN,
  policy: PERMISSIVE_OUTBOUND,
  ...over,
});

test('a Helm values field is written in place (comments kept), and writing the same version again commits nothing', async () => {
  const url = git.createRepo('values', { 'charts/shop/values.yaml': VALUES });
  const first = await writeBack(request(url));
  expect(first.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(git.show('values', 'charts/shop/values.yaml')).toBe(VALUES.replace('tag: 1.0.0', 'tag: 1.2.0'));
  expect(await writeBack(request(url))).toEqual({ commit: null, pushAttempts: 0 });
  expect(git.log('values')).toEqual(['Deploy shop 0.0.3 to prod', 'seed']);
  // A digest goes where the tag went when the file asks for it.
  const digest = `sha256:${'ab'.repeat(32)}`;
  await writeBack(
    request(url, {
      files: [
        {
          path: 'charts/shop/values.yaml',
          format: 'yaml',
          field: 'image.digest',
          use: 'digest',
          tag: '1.2.0',
          digest,
        },
      ],
    }),
  );
  expect(git.show('values', 'charts/shop/values.yaml')).toContain(`digest: ${digest}`);
});

test('when another writer moves the branch between fetch and push, the edit is redone on the new head and pushed', async () => {
  const url = git.createRepo('moved', { 'charts/shop/values.yaml': VALUES, 'README.md': 'shop\n' });
  beforeNextPush = () => git.commit('moved', 'README.md', 'shop, edited meanwhile\n', 'someone else');
  const result = await writeBack(request(url));
  expect(result.pushAttempts).toBe(2);
  expect(git.log('moved')).toEqual(['Deploy shop 0.0.3 to prod', 'someone else', 'seed']);
  expect(git.show('moved', 'README.md')).toBe('shop, edited meanwhile\n');
  expect(git.show('moved', 'charts/shop/values.yaml')).toContain('tag: 1.2.0');
});

test('refusals that retrying cannot fix: a wrong token, a missing branch or file, bad YAML, a refused address', async () => {
  const url = git.createRepo('refusals', {
    'bad.yaml': 'a: [1, 2\n',
    'k/kustomization.yaml': 'images: []\n',
  });
  await expect(writeBack(request(url, { token: 'wrong' }))).rejects.toThrow(GitPermanentError);
  await expect(writeBack(request(url, { branch: 'nope' }))).rejects.toThrow(/couldn't find remote ref|nope/);
  await expect(
    writeBack(
      request(url, {
        files: [{ path: 'bad.yaml', format: 'yaml', field: 'x', use: 'tag', tag: '1', digest: null }],
      }),
    ),
  ).rejects.toThrow(/bad.yaml is not valid YAML/);
  await expect(
    writeBack(
      request(url, {
        files: [
          {
            path: 'none/kustomization.yaml',
            format: 'kustomize',
            image: 'x',
            use: 'tag',
            tag: '1',
            digest: null,
          },
        ],
      }),
    ),
  ).rejects.toThrow(/does not exist in the repository/);
  await expect(writeBack(request(url, { policy: STRICT_OUTBOUND }))).rejects.toThrow(
    /loopback addresses are not allowed/,
  );
  await expect(writeBack(request('http://169.254.169.254/repo.git'))).rejects.toThrow(GitPermanentError);
  expect(git.log('refusals')).toEqual(['seed']);
});

test('a kustomization without the image gets a new images entry; the token never reaches the URL or the error text', async () => {
  const url = git.createRepo('kustomize', { 'kustomization.yaml': 'resources:\n  - deployment.yaml\n' });
  await writeBack(
    request(url, {
      files: [
        {
          path: 'kustomization.yaml',
          format: 'kustomize',
          image: 'shop/web',
          use: 'tag',
          tag: '2.0.0',
          digest: null,
        },
      ],
    }),
  );
  expect(git.show('kustomize', 'kustomization.yaml')).toBe(
    'resources:\n  - deployment.yaml\nimages:\n  - name: shop/web\n    newTag: 2.0.0\n',
  );
  const failure = await writeBack(request(url, { branch: 'missing' })).catch((err: Error) => err);
  expect(String(failure)).not.toContain(TOKEN);
  expect(String(failure)).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
});

describe('over SSH (OpenSSH sshd on 127.0.0.1)', () => {
  let ssh: SshGitServer;
  beforeAll(async () => {
    ssh = await startSshGitServer();
  });
  afterAll(async () => {
    await ssh?.close();
  });

  const sshRequest = (url: string, over: Partial<GitWriteRequest> = {}): GitWriteRequest =>
    request(url, {
      token: undefined,
      files: [
        { path: 'values.yaml', format: 'yaml', field: 'image.tag', use: 'tag', tag: '3.0.0', digest: null },
      ],
      ssh: { key: ssh.clientKey, knownHosts: ssh.knownHosts },
      ...over,
    });

  test('commits with the configured key to a server whose host key is pinned', async () => {
    const url = ssh.createRepo('over-ssh', { 'values.yaml': VALUES });
    const result = await writeBack(sshRequest(url));
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(ssh.git('over-ssh', 'show', 'main:values.yaml')).toBe(VALUES.replace('tag: 1.0.0', 'tag: 3.0.0'));
    expect(await writeBack(sshRequest(url))).toEqual({ commit: null, pushAttempts: 0 });
  });

  test('refuses a server whose host key is not the pinned one, and a key the server does not accept', async () => {
    const url = ssh.createRepo('impostor', { 'values.yaml': VALUES });
    const otherHost = `${ssh.knownHosts.split(' ')[0]} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl`;
    await expect(
      writeBack(sshRequest(url, { ssh: { key: ssh.clientKey, knownHosts: otherHost } })),
    ).rejects.toThrow(/Host key verification failed/);
    const stranger = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-ssh-key-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(stranger, 'k')]);
      const key = execFileSync('cat', [path.join(stranger, 'k')], { encoding: 'utf8' });
      await expect(writeBack(sshRequest(url, { ssh: { key, knownHosts: ssh.knownHosts } }))).rejects.toThrow(
        GitPermanentError,
      );
    } finally {
      rmSync(stranger, { recursive: true, force: true });
    }
    expect(ssh.git('impostor', 'log', '--format=%s', 'main').trim()).toBe('seed');
  });
});
