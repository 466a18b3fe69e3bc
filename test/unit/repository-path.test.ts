import { GitPermanentError, repositoryPath } from '../../src/targets/git/write-back';

/**
 * Write-back's path check: a deploy file's path names a file inside the repository's tree and never Git's
 * own folder, however another checkout (HFS+ on a Mac, NTFS on Windows) would read the name.
 */
describe('repositoryPath', () => {
  test.each([
    ['.git\u200c/HEAD', 'a zero-width non-joiner (HFS+ ignores it)'],
    ['.git\u200d/config', 'a zero-width joiner'],
    ['\ufeff.git/HEAD', 'a byte order mark'],
    ['.g\u200eit/HEAD', 'a left-to-right mark'],
    ['.git\u202e/HEAD', 'a right-to-left override'],
    ['.git\u00ad/HEAD', 'a soft hyphen'],
    ['.git\u034f/HEAD', 'a combining grapheme joiner (default-ignorable, not Cf)'],
    ['.git\ufe0f/HEAD', 'a variation selector'],
    ['a/\u2060.git/HEAD', 'a word joiner'],
    ['values\u0007.yaml', 'a control character'],
    ['values\n.yaml', 'a newline'],
    ['values\ud800.yaml', 'a lone surrogate'],
  ])('%j is refused: %s', (given) => {
    expect(() => repositoryPath(given)).toThrow(GitPermanentError);
    expect(() => repositoryPath(given)).toThrow(/invisible or control character/);
  });

  test.each([
    ['\uff0e\uff47\uff49\uff54/HEAD', 'fullwidth'],
    ['\u2024git/HEAD', 'a one-dot leader (NFKC: ".")'],
    ['.git\u00a0/HEAD', 'a trailing no-break space (NFKC: a space)'],
    ['.git\u3000/config', 'a trailing ideographic space'],
    ['.GIT/HEAD', 'upper case'],
    ['.G\uff29T/HEAD', 'upper case, partly fullwidth'],
    ['.git. . /HEAD', 'trailing dots and spaces'],
    ['.git::$INDEX_ALLOCATION/HEAD', 'an NTFS stream'],
    ['GIT~1/HEAD', 'the NTFS short name'],
    ['a/./b/../.git/hooks/pre-push', 'after normalising the path'],
  ])('%j names .git: %s', (given) => {
    expect(() => repositoryPath(given)).toThrow(/a path into \.git is refused/);
  });

  test('the refusal shows invisible code points escaped', () => {
    expect(() => repositoryPath('.git\u200c/HEAD')).toThrow(
      '".git\\u200c/HEAD": the path holds an invisible',
    );
  });

  test.each([
    ['values.yaml', 'values.yaml'],
    ['./k/../overlays/prod/kustomization.yaml', 'overlays/prod/kustomization.yaml'],
    ['charts/café/values.yaml', 'charts/café/values.yaml'],
    ['.github/values.yaml', '.github/values.yaml'],
    ['.gitignore.yaml', '.gitignore.yaml'],
    ['git~2/values.yaml', 'git~2/values.yaml'],
    ['日本/values.yaml', '日本/values.yaml'],
  ])('%j is a path in the repository: %j', (given, expected) => {
    expect(repositoryPath(given)).toBe(expected);
  });
});
