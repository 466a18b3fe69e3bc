import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ExecError, execCommand, ExecOptions } from '../../src/runtime/exec-helper';

/** The helper's process id, seen from a command it runs (never this process: a test must not kill itself). */
async function helperPid(): Promise<number> {
  const pid = Number((await sh('echo $PPID')).stdout.toString().trim());
  if (pid === process.pid || !(pid > 1)) throw new Error(`the command ran from this process (parent ${pid})`);
  return pid;
}

/** Whether a process runs (a zombie, dead but not yet reaped by whoever adopted it, does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

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

  test('a command refused before it starts (a NUL byte in its environment) fails alone; the others run on', async () => {
    const before = await helperPid();
    const other = sh('sleep 0.3; echo still here');
    const refused = await failure(sh('echo never', { env: { PATH: process.env.PATH, BAD: 'a\0b' } }));
    expect(refused.code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await other).stdout.toString()).toBe('still here\n');
    expect(await helperPid()).toBe(before);
  });

  test('commands run side by side; a helper killed mid-command fails that command, and the next starts a new one', async () => {
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map((n) => sh(`sleep 0.5; echo ${n}`)));
    expect(results.map((r) => r.stdout.toString().trim())).toEqual(['1', '2', '3']);
    expect(Date.now() - started).toBeLessThan(1400);

    const killed = await helperPid();
    const marker = `exec-helper-orphan-${process.pid}-${Date.now()}`;
    const running = failure(sh(`sleep 30; echo ${marker}`));
    await new Promise((r) => setTimeout(r, 300));
    const commandPid = Number(
      execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n')[0],
    );
    process.kill(killed, 'SIGKILL');
    const err = await running;
    expect(err.message).toMatch(/the command helper exited \(SIGKILL\)/);
    // The command it ran does not run on unwatched while its caller retries it.
    for (let i = 0; i < 50 && alive(commandPid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(commandPid)).toBe(false);
    expect(await helperPid()).not.toBe(killed);
  });

  test('with no helper to be had (its program cannot start), commands run from this process', async () => {
    // The helper running now is ended first: the next command starts a new one, which cannot start.
    const ended = await helperPid();
    const node = process.execPath;
    process.execPath = '/nonexistent/node';
    try {
      process.kill(ended, 'SIGKILL');
      while (alive(ended)) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      const { stdout } = await sh('echo $PPID');
      expect(Number(stdout.toString().trim())).toBe(process.pid);
    } finally {
      process.execPath = node;
    }
  });
});
