import { ChildProcess, execFile, spawn } from 'node:child_process';

/**
 * Short commands (git, in write-back) run from a small helper process instead of from this one. Node starts
 * a child with fork(), which copies the calling process's page tables and marks its memory copy-on-write: a
 * worker holding a gigabyte spends about 25 ms of CPU on each command, with its event loop (workflow tasks,
 * API answers) stopped meanwhile; a helper of a few tens of megabytes spends about 2 ms (`npm run
 * bench:exec`). A write-back runs about ten git commands. The helper starts on first use, runs commands
 * concurrently, and exits after `IDLE_MS` without work or when this process goes away; it never keeps this
 * process alive. If it cannot start, commands run from this process as before.
 */

export interface ExecOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Written to the command's standard input, which is then closed. */
  readonly input?: Buffer;
  /** The command is killed (SIGTERM) after this long. */
  readonly timeoutMs: number;
  /** The most bytes kept of each of standard output and standard error; the command is killed past it. */
  readonly maxBuffer: number;
}

/** How a command failed: its exit code (or an errno code when it did not start) and signal, and its output. */
export class ExecError extends Error {
  constructor(
    message: string,
    readonly code: number | string | null,
    readonly signal: string | null,
    readonly stdout: Buffer,
    readonly stderr: Buffer,
  ) {
    super(message);
  }
}

export interface ExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** A helper with nothing to run for this long exits (and starts again when needed). */
export const IDLE_MS = 30_000;

/**
 * The helper's program (Node built-ins only, so it runs the same from the sources under jest and from the
 * build): each message is a command to run, each answer its outcome under the message's id.
 */
const HELPER = `
const { execFile } = require('node:child_process');
const children = new Map();
let idle = setTimeout(() => process.exit(0), ${IDLE_MS});
const settled = () => { clearTimeout(idle); if (children.size === 0) idle = setTimeout(() => process.exit(0), ${IDLE_MS}); };
const answer = (m) => { if (process.connected) process.send(m); };
// Without the process that asked, nobody waits for its commands: they end with it.
process.on('disconnect', () => { for (const c of children.values()) c.kill('SIGKILL'); process.exit(0); });
process.on('message', (m) => {
  clearTimeout(idle);
  let child;
  try {
    child = execFile(m.file, m.args, { cwd: m.cwd, env: m.env, timeout: m.timeoutMs, maxBuffer: m.maxBuffer, encoding: 'buffer' }, (err, stdout, stderr) => {
      children.delete(m.id);
      settled();
      answer({ id: m.id, error: err ? { message: err.message, code: err.code ?? null, signal: err.signal ?? null } : null, stdout, stderr });
    });
  } catch (err) {
    // Refused before it started (a NUL byte in an argument, an environment too large): that command's answer.
    settled();
    return answer({ id: m.id, error: { message: String(err && err.message), code: (err && err.code) ?? null, signal: null }, stdout: new Uint8Array(0), stderr: new Uint8Array(0) });
  }
  children.set(m.id, child);
  // Its process id, so that if this helper dies the asking process can end the command it would orphan.
  answer({ id: m.id, pid: child.pid });
  child.stdin.on('error', () => undefined);
  child.stdin.end(m.input ?? undefined);
});
`;

interface Pending {
  readonly file: string;
  readonly args: readonly string[];
  readonly options: ExecOptions;
  /** The command's process, once the helper started it. */
  pid?: number;
  resolve(result: ExecResult): void;
  reject(err: Error): void;
}

type Reply =
  | { readonly id: number; readonly pid: number }
  | {
      readonly id: number;
      readonly error: { message: string; code: number | string | null; signal: string | null } | null;
      readonly stdout: Uint8Array;
      readonly stderr: Uint8Array;
    };

interface Helper {
  readonly child: ChildProcess;
  readonly pending: Map<number, Pending>;
  lastUsed: number;
  fail(why: string): void;
}
let helper: Helper | null = null;
/**
 * A helper idle for this long is not sent more: it may be exiting as the command arrives (which it would then
 * never run). A new one starts instead and the old one exits on its own.
 */
const REUSE_MS = IDLE_MS - 5_000;
/** How long past a command's own time limit the helper may take to answer before it is taken for stuck. */
const GRACE_MS = 15_000;
let nextId = 1;
/** Set once the helper could not start here: commands then run from this process. */
let unavailable = false;

function startHelper(): Helper {
  const child = spawn(process.execPath, ['-e', HELPER], {
    // Its own stderr stays ours, so a crash of the helper is seen; commands' output comes back by message.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: { PATH: process.env.PATH ?? '' },
  });
  const fail = (why: string, notStarted = false) => {
    if (helper === started) helper = null;
    for (const p of started.pending.values()) {
      // The helper never started: nothing ran, so each command runs here.
      if (notStarted) {
        execHere(p.file, p.args, p.options).then(p.resolve, p.reject);
        continue;
      }
      // A command the helper left running would run on, unwatched, while its caller retries it.
      if (p.pid !== undefined)
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Ended already.
        }
      p.reject(new ExecError(why, null, null, Buffer.alloc(0), Buffer.alloc(0)));
    }
    started.pending.clear();
  };
  const started: Helper = { child, pending: new Map<number, Pending>(), lastUsed: Date.now(), fail };
  child.on('message', (reply: Reply) => {
    const p = started.pending.get(reply.id);
    if (!p) return;
    if ('pid' in reply) {
      p.pid = reply.pid;
      return;
    }
    started.pending.delete(reply.id);
    started.lastUsed = Date.now();
    if (started.pending.size === 0) unref(child);
    const stdout = Buffer.from(reply.stdout.buffer, reply.stdout.byteOffset, reply.stdout.byteLength);
    const stderr = Buffer.from(reply.stderr.buffer, reply.stderr.byteOffset, reply.stderr.byteLength);
    if (reply.error)
      p.reject(new ExecError(reply.error.message, reply.error.code, reply.error.signal, stdout, stderr));
    else p.resolve({ stdout, stderr });
  });
  child.on('error', (err) => {
    // Node names the program in the call: `spawn /usr/bin/node`.
    const notStarted = (err as NodeJS.ErrnoException).syscall?.startsWith('spawn') ?? false;
    if (notStarted) unavailable = true;
    fail(`the command helper failed: ${err.message}`, notStarted);
  });
  // A helper that ends mid-command (killed) fails what it ran: the callers' retries run it again.
  child.on('exit', (code, signal) => fail(`the command helper exited (${signal ?? code})`));
  unref(child);
  return started;
}

/** The helper neither keeps this process alive while idle nor lets it exit while it runs a command of ours. */
function unref(child: ChildProcess): void {
  child.unref();
  child.channel?.unref();
}
function ref(child: ChildProcess): void {
  child.ref();
  child.channel?.ref();
}

/** Runs `file` with `args`; resolves with its output when it exits 0, rejects with an ExecError otherwise. */
export function execCommand(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult> {
  if (unavailable) return execHere(file, args, options);
  const stale = helper && helper.pending.size === 0 && Date.now() - helper.lastUsed > REUSE_MS;
  if (!helper || !helper.child.connected || stale) helper = startHelper();
  helper.lastUsed = Date.now();
  const current = helper;
  const { child, pending } = current;
  const id = nextId++;
  return new Promise<ExecResult>((resolve, reject) => {
    // Past the command's own time and a grace, a helper that has not answered is taken for stuck (stopped,
    // starved): it is ended, which fails its commands, and the next command starts another.
    const deadline = setTimeout(() => {
      if (!pending.has(id)) return;
      current.fail(`no answer from the command helper within ${options.timeoutMs + GRACE_MS} ms`);
      current.child.kill('SIGKILL');
    }, options.timeoutMs + GRACE_MS);
    deadline.unref();
    pending.set(id, {
      file,
      args,
      options,
      resolve: (r) => {
        clearTimeout(deadline);
        resolve(r);
      },
      reject: (err) => {
        clearTimeout(deadline);
        reject(err);
      },
    });
    ref(child);
    const unsent = (err: Error) => {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (pending.size === 0) unref(child);
      p.reject(err);
    };
    try {
      send(id);
    } catch (err) {
      // What cannot cross to the helper (structured clone) is a caller's mistake: said, not run.
      unsent(err as Error);
    }
  });

  function send(id: number): void {
    child.send(
      {
        id,
        file,
        args: [...args],
        cwd: options.cwd,
        // A plain copy: an environment object may be a proxy (jest's process.env is), which does not clone.
        env: Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined)),
        input: options.input,
        timeoutMs: options.timeoutMs,
        maxBuffer: options.maxBuffer,
      },
      (err) => {
        if (!err) return;
        // Not sent (the helper went away meanwhile): run it here rather than fail a command nobody ran.
        const p = pending.get(id);
        if (!p) return;
        pending.delete(id);
        if (pending.size === 0) unref(child);
        execHere(file, args, options).then(p.resolve, p.reject);
      },
    );
  }
}

/** The same, from this process (when no helper can start). */
function execHere(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs,
        maxBuffer: options.maxBuffer,
        encoding: 'buffer',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { signal?: string | null };
        reject(
          new ExecError(
            e.message,
            (e.code as number | string | undefined) ?? null,
            e.signal ?? null,
            stdout,
            stderr,
          ),
        );
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
  });
}
