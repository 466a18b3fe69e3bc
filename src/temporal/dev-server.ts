import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';

/** Where the dev server listens: every port is named, so it opens none that nobody configured. */
export interface DevServerPorts {
  readonly frontend: number;
  /** null: no Web UI (`--headless`). */
  readonly ui: number | null;
  readonly metrics: number;
  readonly http: number;
}

export interface DevServerSpec {
  readonly cli: string;
  readonly ip: string;
  readonly ports: DevServerPorts;
  readonly namespace: string;
  /** SQLite file for persistence; omitted for a throwaway in-memory server. */
  readonly dbFile?: string;
  /** `--search-attribute NAME=Keyword` pairs, registered at launch. */
  readonly searchAttributes: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  readonly extraArgs?: readonly string[];
  /** How long the server may take to answer on its frontend port. */
  readonly readyTimeoutMs?: number;
}

/** The dev server did not come up: it exited (the port it could not bind, if that was why) or never answered. */
export class DevServerStartError extends Error {
  readonly code = 'DEV_SERVER_START';
  constructor(
    message: string,
    /** The port the server said it could not bind, when that was the reason. */
    readonly port: number | null,
  ) {
    super(message);
  }
}

/** A dev server process of ours, answering on its frontend port. */
export interface DevServerProcess {
  readonly address: string;
  readonly pid: number;
  readonly uiUrl: string | null;
  /** Stops it (SIGTERM, then SIGKILL after a grace period); resolves once it has exited. */
  stop(): Promise<void>;
}

/** The SDK's own defaults for a dev server it starts (updates enabled, no version check). */
const SDK_DEV_SERVER_DYNAMIC_CONFIG = [
  'frontend.enableServerVersionCheck=false',
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
];

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = {
  KEYWORD: 'Keyword',
  KEYWORD_LIST: 'KeywordList',
  TEXT: 'Text',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
};

/** The command line of `temporal server start-dev` for a spec. */
export function devServerArgs(spec: DevServerSpec): string[] {
  const { ports } = spec;
  return [
    'server',
    'start-dev',
    '--ip',
    spec.ip,
    '--port',
    String(ports.frontend),
    ...(ports.ui === null ? ['--headless'] : ['--ui-port', String(ports.ui)]),
    // Without these two the CLI binds a random free port for each (v1.5.1).
    '--metrics-port',
    String(ports.metrics),
    '--http-port',
    String(ports.http),
    ...(spec.namespace === 'default' ? [] : ['--namespace', spec.namespace]),
    ...(spec.dbFile ? ['--db-filename', spec.dbFile] : []),
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...SDK_DEV_SERVER_DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
    ...spec.searchAttributes.flatMap((a) => [
      '--search-attribute',
      `${a.name}=${SEARCH_ATTRIBUTE_TYPES[a.type] ?? a.type}`,
    ]),
    ...(spec.extraArgs ?? []),
  ];
}

/**
 * Starts `temporal server start-dev` as a child of this process and waits until the frontend port answers
 * *and is held by that child*: a server of another process on the same port (another instance of the
 * service) is never taken for ours. The child is killed if it does not come up, and when this process
 * exits by any path that runs exit handlers.
 */
export async function startDevServerProcess(spec: DevServerSpec): Promise<DevServerProcess> {
  const child = spawn(spec.cli, devServerArgs(spec), { stdio: ['ignore', 'ignore', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(
    () => process.off('exit', killOnExit),
    () => undefined,
  );
  // The server's lines are kept until it answers (an error is said as one line of ours), then passed on.
  const early: string[] = [];
  let serving = false;
  // Its shutdown warnings (workers losing the frontend it is stopping) are noise once we stop it.
  let stopping = false;
  let spawnError: Error | null = null;
  child.once('error', (err) => (spawnError = err));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (stopping) return;
    if (serving) process.stderr.write(chunk);
    else early.push(chunk);
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitUntilServing(child, spec, () => spawnError, exited);
  } catch (err) {
    await kill();
    if (err instanceof DevServerStartError) throw failureFrom(early.join(''), spec, err);
    throw err;
  }
  serving = true;
  if (early.length > 0) process.stderr.write(early.join(''));
  return {
    address: `${spec.ip}:${spec.ports.frontend}`,
    pid: child.pid!,
    uiUrl: spec.ports.ui === null ? null : `http://${spec.ip}:${spec.ports.ui}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      // SIGTERM lets it close its SQLite file cleanly; a server that does not stop in time is killed.
      child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(grace);
    },
  };
}

async function waitUntilServing(
  child: ChildProcess,
  spec: DevServerSpec,
  spawnError: () => Error | null,
  exited: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
  let done = false;
  void exited.then(() => (done = true));
  while (Date.now() < deadline) {
    const error = spawnError();
    if (error) throw new DevServerStartError(`cannot run ${spec.cli}: ${error.message}`, null);
    if (done || child.exitCode !== null || child.signalCode !== null)
      throw new DevServerStartError('the Temporal dev server exited', null);
    if (await answers(spec.ip, spec.ports.frontend)) {
      const holder = listeningHolder(spec.ports.frontend, child.pid!);
      if (holder === 'ours' || holder === 'unknown') return;
      // Someone else answers on our port: ours will fail to bind and exit; say so then, or at the deadline.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new DevServerStartError(
    `the Temporal dev server did not answer on ${spec.ip}:${spec.ports.frontend} within ${Math.round(
      (spec.readyTimeoutMs ?? 60_000) / 1000,
    )} s`,
    null,
  );
}

/** The dev server's own words for why it stopped, turned into one line; a bind failure names its port. */
function failureFrom(output: string, spec: DevServerSpec, err: DevServerStartError): DevServerStartError {
  const messages = output
    .split('\n')
    .map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
      } catch {
        return line.trim();
      }
    })
    .filter((m) => m.length > 0);
  const bind = messages.find((m) => /address already in use|can't (set|use)[^:]*port/i.test(m));
  if (bind) {
    const port = /port (\d+)/.exec(bind) ?? /:(\d+): bind/.exec(bind);
    return new DevServerStartError(
      `the Temporal dev server could not start: ${bind}`,
      port ? Number(port[1]) : null,
    );
  }
  const last = messages.at(-1);
  return last ? new DevServerStartError(`${err.message}: ${last.slice(0, 500)}`, null) : err;
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Whether the process listening on a local TCP port is `pid` (or one of its descendants), read from /proc;
 * `unknown` where there is no /proc (then the child being alive once the port answers has to do).
 */
export function listeningHolder(port: number, pid: number): 'ours' | 'other' | 'unknown' {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) => {
        let text = '';
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          return [];
        }
        return text
          .split('\n')
          .slice(1)
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => f.length > 9 && f[3] === '0A' && parseInt(f[1].split(':').at(-1)!, 16) === port)
          .map((f) => f[9]);
      }),
    );
    if (inodes.size === 0) return 'unknown';
  } catch {
    return 'unknown';
  }
  for (const p of withDescendants(pid)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${p}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) return 'ours';
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return 'other';
}

function withDescendants(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && all.length < 64; i++) {
    try {
      for (const task of readdirSync(`/proc/${all[i]}/task`)) {
        const children = readFileSync(`/proc/${all[i]}/task/${task}/children`, 'utf8').trim();
        if (children) all.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // Gone, or no children file on this kernel.
    }
  }
  return all;
}
