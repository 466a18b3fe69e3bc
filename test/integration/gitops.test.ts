import {
  GIT_FOLDER_PREFIX,
  GitPermanentError,
  GitWriteRequest,
  INLINE_EDIT_CHARS,
  writeBack,
} from '../../src/targets/git/write-back';
import { sharedCpuPool } from '../../src/runtime/cpu-pool';
import { PERMISSIVE_OUTBOUND, STRICT_OUTBOUND } from '../../src/net/outbound';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitServer, startGitServer } from '../support/git-server';
import { SshGitServer, startSshGitServer } from '../support/ssh-git-server';
import { startTestWorker } from '../support/temporal';

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

test('a values file over the inline size is edited in a pool thread and pushed; a deep one is refused for good', async () => {
  // Settings enough to pass INLINE_EDIT_CHARS, the image in the middle of them.
  const settings = Array.from({ length: 4000 }, (_, i) => `  key${i}: [${i}, "value ${i}"]`).join('\n');
  const big = `settings:\n${settings}\n${VALUES}more:\n${settings}\n`;
  expect(big.length).toBeGreaterThan(INLINE_EDIT_CHARS);
  const url = git.createRepo('big-values', { 'charts/shop/values.yaml': big });
  const ranBefore = sharedCpuPool('targets').ran;
  const result = await writeBack(request(url));
  expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(git.show('big-values', 'charts/shop/values.yaml')).toBe(big.replace('tag: 1.0.0', 'tag: 1.2.0'));
  expect(sharedCpuPool('targets').ran).toBe(ranBefore + 1);

  const deep = git.createRepo('deep-values', {
    'charts/shop/values.yaml': `${VALUES}deep: ${'['.repeat(INLINE_EDIT_CHARS)}\n`,
  });
  const failure = await writeBack(request(deep)).catch((err: Error) => err);
  expect(failure).toBeInstanceOf(GitPermanentError);
  expect((failure as Error).message).toBe(
    'charts/shop/values.yaml: the YAML nests collections deeper than 64 levels',
  );
  expect(git.log('deep-values')).toEqual(['seed']);
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

describe('write-back never leaves the repository', () => {
  let outside: string;
  beforeEach(() => {
    outside = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-outside-'));
  });
  afterEach(() => rmSync(outside, { recursive: true, force: true }));

  const tagAt = (file: string): GitWriteRequest['files'] => [
    { path: file, format: 'yaml', field: 'image.tag', use: 'tag', tag: '1.2.0', digest: null },
  ];

  test('a target file that links to a file outside is refused for good, by name, and the outside file is untouched', async () => {
    const target = path.join(outside, 'values.yaml');
    writeFileSync(target, VALUES);
    const url = git.createRepo('symlink-file', { 'charts/shop/values.yaml': { symlink: target } });
    for (let attempt = 1; attempt <= 2; attempt++) {
      // A retry must not find the version "already there" either.
      const failure = await writeBack(request(url)).catch((err: Error) => err);
      expect(failure).toBeInstanceOf(GitPermanentError);
      expect(String(failure)).toMatch(/charts\/shop\/values\.yaml is a symbolic link/);
    }
    expect(readFileSync(target, 'utf8')).toBe(VALUES);
    expect(git.log('symlink-file')).toEqual(['seed']);
  });

  test('a target that links to an outside file already holding the version is refused, not "already there"', async () => {
    const target = path.join(outside, 'values.yaml');
    writeFileSync(target, VALUES.replace('1.0.0', '1.2.0'));
    const url = git.createRepo('symlink-holds', { 'values.yaml': { symlink: target } });
    await expect(writeBack(request(url, { files: tagAt('values.yaml') }))).rejects.toThrow(
      /values\.yaml is a symbolic link/,
    );
  });

  test('a dangling link creates nothing', async () => {
    const target = path.join(outside, 'created.yaml');
    const url = git.createRepo('dangling', { 'values.yaml': { symlink: target } });
    await expect(writeBack(request(url, { files: tagAt('values.yaml') }))).rejects.toThrow(GitPermanentError);
    expect(existsSync(target)).toBe(false);
    expect(git.log('dangling')).toEqual(['seed']);
  });

  test('a linked folder along the path is refused, by name, and nothing behind it changes', async () => {
    mkdirSync(path.join(outside, 'shop'));
    writeFileSync(path.join(outside, 'shop', 'values.yaml'), VALUES);
    const url = git.createRepo('symlink-folder', { charts: { symlink: outside }, 'README.md': 'x\n' });
    await expect(writeBack(request(url))).rejects.toThrow(/charts is a symbolic link/);
    // A new file under the linked folder is refused too.
    await expect(writeBack(request(url, { files: tagAt('charts/new/values.yaml') }))).rejects.toThrow(
      /charts is a symbolic link/,
    );
    expect(readFileSync(path.join(outside, 'shop', 'values.yaml'), 'utf8')).toBe(VALUES);
    expect(readdirSync(outside)).toEqual(['shop']);
    expect(git.log('symlink-folder')).toEqual(['seed']);
  });

  test('a read through a link to /etc/passwd is refused before anything is read', async () => {
    const url = git.createRepo('passwd', { 'values.yaml': { symlink: '/etc/passwd' } });
    const failure = await writeBack(request(url, { files: tagAt('values.yaml') })).catch((err: Error) => err);
    expect(failure).toBeInstanceOf(GitPermanentError);
    expect(String(failure)).toMatch(/values\.yaml is a symbolic link/);
    expect(String(failure)).not.toMatch(/root|mapping/);
  });

  test('paths into .git, absolute paths and paths that climb out are refused for good', async () => {
    const url = git.createRepo('dot-git', { 'values.yaml': VALUES, 'a/values.yaml': VALUES });
    for (const file of [
      './.git/HEAD',
      '.git/HEAD',
      'a/../.git/config',
      '.GIT/HEAD',
      '.Git/hooks/pre-push',
      'a/.git/x.yaml',
      '.git./HEAD',
      '.git',
      '/etc/passwd',
      '../outside.yaml',
      'a/../../outside.yaml',
      '',
      '.',
    ]) {
      const failure = await writeBack(request(url, { files: tagAt(file) })).catch((err: Error) => err);
      expect([file, failure]).toEqual([file, expect.any(GitPermanentError)]);
      expect([file, String(failure)]).toEqual([file, expect.stringMatching(/\.git|outside|not a file path/)]);
    }
    expect(git.log('dot-git')).toEqual(['seed']);
  });

  test('a submodule, or a file in place of a folder, is refused', async () => {
    const url = git.createRepo('submodule', {
      vendor: { submodule: 'a'.repeat(40) },
      'plain.txt': 'x\n',
    });
    await expect(writeBack(request(url, { files: tagAt('vendor') }))).rejects.toThrow(
      /vendor is a submodule/,
    );
    await expect(writeBack(request(url, { files: tagAt('vendor/values.yaml') }))).rejects.toThrow(
      /vendor is a submodule/,
    );
    await expect(writeBack(request(url, { files: tagAt('plain.txt/values.yaml') }))).rejects.toThrow(
      /plain\.txt is not a folder/,
    );
    expect(git.log('submodule')).toEqual(['seed']);
  });

  test('"already holds the version" is read from the remote branch, and a new file is created in the tree', async () => {
    const url = git.createRepo('holds', { 'values.yaml': VALUES, 'README.md': 'x\n' });
    git.commit('holds', 'values.yaml', VALUES.replace('1.0.0', '1.2.0'), 'someone else');
    expect(await writeBack(request(url, { files: tagAt('values.yaml') }))).toEqual({
      commit: null,
      pushAttempts: 0,
    });
    const created = await writeBack(request(url, { files: tagAt('new/dir/values.yaml') }));
    expect(created.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(git.show('holds', 'new/dir/values.yaml')).toBe('image:\n  tag: 1.2.0\n');
    expect(git.log('holds')).toEqual(['Deploy shop 0.0.3 to prod', 'someone else', 'seed']);
  });
});

test('a one-tag write-back of a real values file changes exactly the tag bytes, CRLF and BOM included', async () => {
  const podinfo = readFileSync(
    path.resolve(__dirname, '../fixtures/deploy-files/podinfo-values.yaml'),
    'utf8',
  );
  const hostile = `\uFEFF${podinfo.replaceAll('\n', '\r\n')}`;
  const url = git.createRepo('one-tag', { 'values.yaml': podinfo, 'crlf/values.yaml': hostile });
  const files = ['values.yaml', 'crlf/values.yaml'].map((file) => ({
    path: file,
    format: 'yaml' as const,
    field: 'image.tag',
    use: 'tag' as const,
    tag: '6.10.0',
    digest: null,
  }));
  await writeBack(request(url, { files }));
  for (const [file, before] of [
    ['values.yaml', podinfo],
    ['crlf/values.yaml', hostile],
  ]) {
    const at = before.indexOf('tag: 6.9.1') + 'tag: '.length;
    expect(git.show('one-tag', file)).toBe(
      `${before.slice(0, at)}6.10.0${before.slice(at + '6.9.1'.length)}`,
    );
  }
});

describe('temporary Git folders', () => {
  const ownFolders = () =>
    readdirSync(os.tmpdir()).filter((name) => name.startsWith(`${GIT_FOLDER_PREFIX}${process.pid}-`));

  test('none is left after an attempt, whether it pushed or failed', async () => {
    const url = git.createRepo('leftovers', { 'charts/shop/values.yaml': VALUES, 'bad.yaml': 'a: [1\n' });
    await writeBack(request(url));
    await expect(
      writeBack(
        request(url, {
          files: [{ path: 'bad.yaml', format: 'yaml', field: 'a', use: 'tag', tag: '1', digest: null }],
        }),
      ),
    ).rejects.toThrow(GitPermanentError);
    await expect(writeBack(request(url, { branch: 'missing' }))).rejects.toThrow();
    await expect(writeBack(request('ssh://127.0.0.1:1/repo.git', { token: undefined }))).rejects.toThrow(
      /needs a key/,
    );
    expect(ownFolders()).toEqual([]);
  });

  test("a worker removes at start the folders a killed worker left, and leaves a running one's", async () => {
    // A process that has exited, as a worker killed with -9 has; and one that still runs.
    const dead = spawnSync('true').pid!;
    const stale = path.join(os.tmpdir(), `${GIT_FOLDER_PREFIX}${dead}-Ab12Cd`);
    mkdirSync(path.join(stale, 'repo.git'), { recursive: true });
    writeFileSync(path.join(stale, 'key'), 'a deploy key\n', { mode: 0o600 });
    // One an earlier version left (no process id in its name), two hours old.
    const legacy = path.join(os.tmpdir(), `${GIT_FOLDER_PREFIX}Xy56Zw`);
    mkdirSync(legacy);
    const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(legacy, hoursAgo, hoursAgo);
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    const busy = path.join(os.tmpdir(), `${GIT_FOLDER_PREFIX}${other.pid}-Ef34Gh`);
    mkdirSync(busy);
    const worker = await startTestWorker();
    try {
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(legacy)).toBe(false);
      expect(existsSync(busy)).toBe(true);
    } finally {
      await worker.stop();
      other.kill();
      rmSync(busy, { recursive: true, force: true });
      rmSync(stale, { recursive: true, force: true });
      rmSync(legacy, { recursive: true, force: true });
    }
  });
});
