import { ExecError, execCommand } from '../../src/runtime/exec-helper';

/**
 * Runs a short command (openssl, cosign) as `promisify(execFile)` does, but from the command helper
 * (src/runtime/exec-helper.ts): a jest worker holds a gigabyte, and forking it costs ~30 ms of CPU a command.
 * Rejects with an Error naming the command and its standard error.
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execCommand(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeoutMs: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') };
  } catch (err) {
    if (!(err instanceof ExecError)) throw err;
    throw new Error(
      `${file} ${args.join(' ')} failed (${err.code ?? err.signal}): ${err.stderr.toString('utf8')}`,
    );
  }
}
