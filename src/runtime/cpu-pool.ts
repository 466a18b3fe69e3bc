import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CPU_POOL_THREAD } from './cpu-tasks';
import type { CpuTaskInput, CpuTaskName, CpuTaskOutput, CpuTaskReply } from './cpu-tasks';

/**
 * A small pool of worker threads for CPU-heavy work a caller can start (rule previews over large tag lists,
 * Helm index parsing): the API and the Temporal worker share one event loop, so seconds of parsing there
 * would stall /healthz, every API read and every workflow task. Bounded twice: `size` threads run, `queue`
 * tasks wait, and a task past that is refused at once (PoolBusyError) rather than queued without end. A
 * task that runs past `timeoutMs` has its thread terminated (PoolTimeoutError). Threads start on first use
 * and stop after `idleMs` without work; they never keep the process alive.
 */
export interface CpuPoolOptions {
  readonly size: number;
  readonly queue: number;
  readonly timeoutMs?: number;
  readonly idleMs?: number;
}

/** Every thread is busy and the queue is full: the caller should retry later (503). */
export class PoolBusyError extends Error {
  readonly code = 'POOL_BUSY';
}

/** A task ran past its deadline and its thread was stopped. */
export class PoolTimeoutError extends Error {
  readonly code = 'POOL_TIMEOUT';
}

/** A task failed inside its thread: its error's name, code and message, as they were there. */
export class PoolTaskError extends Error {
  constructor(
    readonly taskName: string,
    readonly errorName: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface Job {
  readonly task: CpuTaskName;
  readonly input: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Thread {
  readonly worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  /** Its code is loaded: a task's deadline runs from then, not from a thread's start. */
  ready: boolean;
}

export class CpuPool {
  private readonly threads = new Set<Thread>();
  private readonly idle: Thread[] = [];
  private readonly waiting: Job[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Tasks run and refused, for tests and benchmarks. */
  ran = 0;
  refused = 0;

  constructor(private readonly options: CpuPoolOptions) {}

  /** Runs a task in a thread; rejects with PoolBusyError at once when the pool and its queue are full. */
  run<K extends CpuTaskName>(task: K, input: CpuTaskInput<K>): Promise<CpuTaskOutput<K>> {
    if (this.closed) return Promise.reject(new PoolBusyError('the CPU pool is closed'));
    const busy = this.threads.size - this.idle.length;
    if (busy >= this.options.size && this.waiting.length >= this.options.queue) {
      this.refused++;
      return Promise.reject(
        new PoolBusyError(
          `${this.options.size} CPU-heavy requests are running and ${this.options.queue} waiting; retry shortly`,
        ),
      );
    }
    return new Promise<CpuTaskOutput<K>>((resolve, reject) => {
      this.waiting.push({ task, input, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Threads running, busy, and tasks waiting. */
  stats(): { threads: number; busy: number; waiting: number } {
    return {
      threads: this.threads.size,
      busy: this.threads.size - this.idle.length,
      waiting: this.waiting.length,
    };
  }

  /** Stops every thread; waiting and running tasks are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new PoolBusyError('the CPU pool is closed'));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const all = [...this.threads];
    this.threads.clear();
    this.idle.length = 0;
    for (const t of all) {
      if (t.timer) clearTimeout(t.timer);
      t.job?.reject(new PoolBusyError('the CPU pool is closed'));
    }
    await Promise.all(all.map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let thread = this.idle.pop();
      if (!thread) {
        if (this.threads.size >= this.options.size) return;
        thread = this.spawn();
      }
      this.start(thread, this.waiting.shift()!);
    }
    this.scheduleIdleStop();
  }

  private start(thread: Thread, job: Job): void {
    thread.job = job;
    thread.worker.ref();
    thread.worker.postMessage({ task: job.task, input: job.input });
    if (thread.ready) this.startDeadline(thread, job);
  }

  private startDeadline(thread: Thread, job: Job): void {
    if (this.options.timeoutMs)
      thread.timer = setTimeout(() => {
        this.drop(thread);
        job.reject(
          new PoolTimeoutError(`the task took longer than ${this.options.timeoutMs} ms and was stopped`),
        );
        this.dispatch();
      }, this.options.timeoutMs);
  }

  private spawn(): Thread {
    const worker = startWorker();
    const thread: Thread = { worker, job: null, timer: null, ready: false };
    this.threads.add(thread);
    worker.on('message', (reply: CpuTaskReply | 'ready') => {
      if (reply === 'ready') {
        thread.ready = true;
        if (thread.job) this.startDeadline(thread, thread.job);
        return;
      }
      const job = thread.job;
      if (thread.timer) clearTimeout(thread.timer);
      thread.timer = null;
      thread.job = null;
      worker.unref();
      if (job) {
        this.ran++;
        if (reply.ok) job.resolve(reply.value);
        else job.reject(new PoolTaskError(job.task, reply.name, reply.code, reply.message));
      }
      if (this.threads.has(thread)) this.idle.push(thread);
      this.dispatch();
    });
    const fail = (err: Error) => {
      const job = thread.job;
      this.drop(thread);
      job?.reject(err);
      this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.threads.has(thread)) fail(new Error(`a CPU pool thread exited (code ${code})`));
    });
    worker.unref();
    return thread;
  }

  private drop(thread: Thread): void {
    if (thread.timer) clearTimeout(thread.timer);
    thread.timer = null;
    thread.job = null;
    this.threads.delete(thread);
    const i = this.idle.indexOf(thread);
    if (i !== -1) this.idle.splice(i, 1);
    void thread.worker.terminate();
  }

  /** Idle threads stop after idleMs without work: a pool used once a day holds no memory. */
  private scheduleIdleStop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.idle.length === 0) return;
    this.idleTimer = setTimeout(() => {
      for (const t of this.idle.splice(0)) this.drop(t);
    }, this.options.idleMs ?? 30_000);
    this.idleTimer.unref();
  }
}

/**
 * A thread running cpu-tasks: the compiled file in a build; under the test runner (TypeScript sources), the
 * source through swc's transform, which only the development dependencies hold.
 */
function startWorker(): Worker {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `cpu-tasks${ext}`);
  if (ext !== '.ts') return new Worker(entry, { workerData: CPU_POOL_THREAD });
  const bootstrap = `
    const fs = require('node:fs');
    const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core'))});
    require.extensions['.ts'] = (module, filename) => {
      const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
        filename,
        jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
      });
      module._compile(code, filename);
    };
    require(${JSON.stringify(entry)});
  `;
  return new Worker(bootstrap, { eval: true, workerData: CPU_POOL_THREAD });
}

/** Threads for the pools: one less than the cores (the event loop keeps one), at least one, at most four. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * The process's pools, made on first use (like the worker's caches, one per process): `api` for what an
 * API caller starts (previews: few wait, the rest get a 503), `feeds` for index parsing and `targets` for
 * deploy files (polls and deployments wait longer, and retry when refused).
 */
const pools = new Map<'api' | 'feeds' | 'targets', CpuPool>();
export function sharedCpuPool(name: 'api' | 'feeds' | 'targets'): CpuPool {
  let pool = pools.get(name);
  if (!pool) {
    const size = defaultPoolSize();
    pool =
      name === 'api'
        ? new CpuPool({ size, queue: 2 * size, timeoutMs: 30_000 })
        : new CpuPool({ size, queue: 64, timeoutMs: 60_000 });
    pools.set(name, pool);
  }
  return pool;
}
