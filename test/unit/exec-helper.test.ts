import { ExecError, execCommand, ExecOptions } from '../../src/runtime/exec-helper';

const options: ExecOptions = {
  cwd: '/',
  env: { PATH: process.env.PATH },
  timeoutMs: 10_000,
  maxBuffer: 1024 * 1024,
};
const sh = (script: string, over: Partial<ExecOptions> = {}) =>
  execCommand('sh', ['-c', script], { ...options, ...over });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the command to fail');
    },
    (err: unknown) => err as ExecError,
  );

describe('commands run from the helper process', () => {
  test('a command runs in a child of the helper, not of this process, with its cwd, env and input', async () => {
    const { stdout } = await sh('echo "$PPID $PWD $GREETING"; cat', {
      cwd: '/tmp',
      env: { PATH: process.env.PATH, GREETING: 'hello' },
      input: Buffer.from('from stdin\n'),
    });
    const [first, second] = stdout.toString('utf8').split('\n');
    const [parent, cwd, greeting] = first.split(' ');
    expect(Number(parent)).not.toBe(process.pid);
    expect(Number(parent)).toBeGreaterThan(0);
    expect([cwd, greeting, second]).toEqual(['/tmp', 'hello', 'from stdin']);
    // Later commands reuse the same helper.
    const again = await sh('echo $PPID');
    expect(again.stdout.toString('utf8').trim()).toBe(parent);
  });

  test("the environment may be any object, jest's process.env (a proxy) included", async () => {
    const { stdout } = await execCommand('sh', ['-c', 'echo "$PATH"'], { ...options, env: process.env });
    expect(stdout.toString('utf8').trim()).toBe(process.env.PATH);
  });

  test('binary output comes back byte for byte', async () => {
    const { stdout } = await sh("printf '\\000\\377\\200abc'");
    expect([...stdout]).toEqual([0, 255, 128, 97, 98, 99]);
  });

  test('a failing command rejects with its exit code and standard error', async () => {
    const err = await failure(sh('echo out; echo why >&2; exit 3'));
    expect(err).toBeInstanceOf(ExecError);
    expect([err.code, err.stdout.toString(), err.stderr.toString()]).toEqual([3, 'out\n', 'why\n']);
  });

  test('a command past its time is killed; one not found says so', async () => {
    const slow = await failure(sh('sleep 30', { timeoutMs: 300 }));
    expect(slow.signal).toBe('SIGTERM');
    const missing = await failure(execCommand('no-such-command-here', [], options));
    expect(missing.code).toBe('ENOENT');
  });

  test('output past maxBuffer is refused, not kept whole', async () => {
    const err = await failure(sh('head -c 100000 /dev/zero', { maxBuffer: 1000 }));
    expect(err.code).toBe('ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
  });

  test('commands run side by side; a helper killed mid-command fails that command, and the next starts a new one', async () => {
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map((n) => sh(`sleep 0.5; echo ${n}`)));
    expect(results.map((r) => r.stdout.toString().trim())).toEqual(['1', '2', '3']);
    expect(Date.now() - started).toBeLessThan(1400);

    const helperPid = Number((await sh('echo $PPID')).stdout.toString().trim());
    const running = failure(sh('sleep 30'));
    await new Promise((r) => setTimeout(r, 200));
    process.kill(helperPid, 'SIGKILL');
    const err = await running;
    expect(err.message).toMatch(/the command helper exited \(SIGKILL\)/);
    const next = Number((await sh('echo $PPID')).stdout.toString().trim());
    expect(next).not.toBe(helperPid);
    expect(next).not.toBe(process.pid);
  });
});
