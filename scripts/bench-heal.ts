import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startGitServer } from '../test/support/git-server';
import { freePort, pushImage, TestRegistry } from '../test/support/registry';

/**
 * `npm run bench:heal`: a lifecycle run that must heal with no person acting. A real Git server (smart
 * HTTP) holding overlays/{dev,test,prod}, Debian's docker-registry and the built service (`serve`: embedded
 * dev server and ledger, its own data folder); a project whose lifecycle deploys dev → test → prod automatically, each
 * environment a Git target, and a trigger polling the registry every 10 s. Over the run: TAGS image tags
 * pushed, the Git server stopped for GIT_OUTAGE_S seconds in the middle, and KILLS kill -9s of the whole
 * service process group (node and its Temporal dev server, as a crash of the host would), restarted each
 * time on the same data folder; some kills wait for a deployment in flight. Then it waits (bounded) until
 * it settles and checks: every environment's current release is the newest, the overlays on main hold the
 * newest tag, no release number twice, one Git commit per successful deployment, no deployment failed.
 * Prints a table of figures; exits 1 when a check fails. Stops everything it started; 10 minutes at most.
 * BENCH_HEAL_LOGS=<dir> keeps the service's output.
 */
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TAGS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0'];
/** When each tag is pushed, in seconds after the project is applied. */
const TAG_AT = [0, 35, 75, 105, 150, 190];
const GIT_OUTAGE_AT = 60;
const GIT_OUTAGE_S = 75;
const KILLS = 10;
/** Kills happen between these times (s after apply). */
const KILL_WINDOW = [10, 225];
const SETTLE_MS = 200_000;
const HARD_LIMIT_MS = 10 * 60_000;
const INTERVAL = 10;
const ENVS = ['dev', 'test', 'prod'];
const PROJECT = 'heal';
const IMAGE = 'heal/web';
const LOGS = process.env.BENCH_HEAL_LOGS;

const kustomization = (env: string, registry: string) => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: heal-${env}
resources:
  - ../../base
images:
  - name: heal/web
    newName: ${registry}/heal/web
    newTag: 0.0.0
`;

/** A seeded random generator (mulberry32): a run's moments can be replayed with BENCH_HEAL_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether something listens on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Deployment {
  id: number;
  release: string;
  environment: string;
  status: string;
  attempts: number;
  error: string | null;
}

async function main(): Promise<void> {
  const seed = Number(process.env.BENCH_HEAL_SEED ?? Date.now() % 100000);
  const rnd = random(seed);
  const started: Array<() => Promise<void> | void> = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-heal-'));
  const t0 = Date.now();
  let failed = false;
  let serviceTmp = '';
  const hard = setTimeout(() => {
    say(`the run passed ${HARD_LIMIT_MS / 60000} minutes: stopping`);
    void stopAll().then(() => process.exit(2));
  }, HARD_LIMIT_MS);
  const stopAll = async () => {
    for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    started.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const registry = await TestRegistry.start();
    started.push(() => registry.stop());
    const git = await startGitServer();
    started.push(() => git.close());
    const repo = git.createRepo('deploy', {
      'base/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n',
      'base/deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
      ...Object.fromEntries(
        ENVS.map((e) => [`overlays/${e}/kustomization.yaml`, kustomization(e, registry.host)]),
      ),
    });

    const ports = {
      FEED_TRIGGERS_API_PORT: await freePort(),
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
    };
    const api = `http://127.0.0.1:${ports.FEED_TRIGGERS_API_PORT}`;
    const dataDir = path.join(dir, 'data');
    serviceTmp = path.join(dir, 'tmp');
    mkdirSync(serviceTmp);
    let child: ChildProcess | null = null;
    let token = '';
    let starts = 0;
    const startService = async (): Promise<number> => {
      const s0 = Date.now();
      const i = starts++;
      // Its own process group: kill -9 of -pid takes node and the dev server it spawned, as a host crash.
      const c = spawn(process.execPath, [path.resolve(__dirname, '../src/main.js'), 'serve'], {
        env: {
          ...process.env,
          ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
          FEED_TRIGGERS_DATA_DIR: dataDir,
          // Its own temporary folder, so what it leaves there is counted at the end.
          TMPDIR: serviceTmp,
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      child = c;
      const kept = LOGS ? createWriteStream(path.join(LOGS, `serve-${i}.log`)) : null;
      let tail = '';
      for (const stream of [c.stdout!, c.stderr!])
        stream.on('data', (d: Buffer) => {
          kept?.write(d);
          tail = (tail + d.toString()).slice(-4000);
          const m = /^ {2}(ft_\S+)$/m.exec(tail);
          if (m && !token) token = m[1];
        });
      c.once('exit', () => kept?.end());
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (c.exitCode !== null) throw new Error(`the service exited (${c.exitCode}): ${tail}`);
        if (Date.now() > deadline) throw new Error(`the service was not ready in 120 s: ${tail}`);
        const ok = await fetch(`${api}/readyz`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ok && token) return Date.now() - s0;
        await sleep(200);
      }
    };
    const killService = async (): Promise<void> => {
      const c = child;
      if (!c?.pid) return;
      const exited = c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
      child = null;
      // The dev server must be gone too: a restart binds the same ports.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const busy = await Promise.all(Object.values(ports).map(listening));
        if (!busy.some(Boolean)) return;
        await sleep(100);
      }
      throw new Error('a port stayed taken 15 s after kill -9 of the process group');
    };
    started.push(() => killService());

    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    };

    const firstStart = await startService();
    say(`service up (first start, dev server included) in ${(firstStart / 1000).toFixed(1)} s`);

    await pushImage(registry.url, IMAGE, TAGS[0]);
    const gitTarget = (env: string) => ({
      name: 'gitops',
      type: 'git',
      url: repo,
      branch: 'main',
      files: [{ path: `overlays/${env}/kustomization.yaml`, format: 'kustomize', package: 'web' }],
      message: `Deploy {project} {release} to ${env}`,
    });
    await call('PUT', `/projects/${PROJECT}`, {
      packages: [{ name: 'web', feed: registry.host, package: IMAGE }],
      environments: ENVS.map((e) => ({ name: e, targets: [gitTarget(e)] })),
      lifecycles: [
        {
          name: 'auto',
          phases: ENVS.map((e) => ({ name: e, environments: [e], automatic: true })),
        },
      ],
      lifecycle: 'auto',
    });
    await call('POST', `/projects/${PROJECT}/triggers`, { name: 'web', intervalSeconds: INTERVAL });
    const a0 = Date.now();
    const at = (s: number) => sleep(Math.max(0, a0 + s * 1000 - Date.now()));
    const since = (t: number) => ((t - a0) / 1000).toFixed(1);
    say(
      `project ${PROJECT} applied (dev → test → prod, each a Git target), trigger every ${INTERVAL} s; seed ${seed}`,
    );

    // What the API says, sampled while the service is up (errors while it is down are expected).
    let envs: Array<{ name: string; current: { release: string } | null; inFlight: Deployment[] }> = [];
    let releases: Array<{ number: string; packages: Array<{ name: string; tag: string }> }> = [];
    let sampling = true;
    let gitBackAt = 0;
    /** The newest release when Git came back, and when prod first held it (or a newer one). */
    let newestAtGitReturn: string | null = null;
    let prodHealedAt = 0;
    /** When the newest tag was pushed, and when every environment first held its release. */
    let lastPushAt = 0;
    let allNewestAt = 0;
    const cmp = (a: string, b: string) => {
      const pa = a.split('.').map(Number);
      const pb = b.split('.').map(Number);
      for (let i = 0; i < Math.max(pa.length, pb.length); i++)
        if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
      return 0;
    };
    const sampler = (async () => {
      while (sampling) {
        try {
          envs = (await call('GET', `/projects/${PROJECT}/environments`)).environments;
          releases = (await call('GET', `/projects/${PROJECT}/releases?limit=100`)).releases;
          if (gitBackAt && !newestAtGitReturn && releases[0]) newestAtGitReturn = releases[0].number;
          const prod = envs.find((e) => e.name === 'prod')?.current?.release;
          if (newestAtGitReturn && !prodHealedAt && prod && cmp(prod, newestAtGitReturn) >= 0)
            prodHealedAt = Date.now();
          const top = releases[0];
          if (
            lastPushAt &&
            !allNewestAt &&
            top?.packages.some((p) => p.tag === TAGS[TAGS.length - 1]) &&
            envs.every((e) => e.current?.release === top.number)
          )
            allNewestAt = Date.now();
        } catch {
          // the service is down or restarting
        }
        await sleep(250);
      }
    })();

    const tags = (async () => {
      for (const [i, tag] of TAGS.entries()) {
        if (i === 0) continue;
        await at(TAG_AT[i]);
        await pushImage(registry.url, IMAGE, tag);
        if (i === TAGS.length - 1) lastPushAt = Date.now();
        say(`  ${since(Date.now())} s: pushed ${IMAGE}:${tag}`);
      }
    })();

    const outage = (async () => {
      await at(GIT_OUTAGE_AT);
      await git.halt();
      say(`  ${since(Date.now())} s: Git server stopped`);
      await at(GIT_OUTAGE_AT + GIT_OUTAGE_S);
      await git.resume();
      gitBackAt = Date.now();
      say(`  ${since(Date.now())} s: Git server back (down ${GIT_OUTAGE_S} s)`);
    })();

    // KILLS moments spread over the window, each jittered; half of them wait for a deployment in flight.
    const killLog: Array<{ at: number; inFlight: string; restartMs: number }> = [];
    const kills = (async () => {
      const span = (KILL_WINDOW[1] - KILL_WINDOW[0]) / KILLS;
      for (let k = 0; k < KILLS; k++) {
        await at(KILL_WINDOW[0] + span * k + rnd() * span * 0.6);
        if (rnd() < 0.5) {
          // Wait (≤ 12 s) for a deployment that is deploying or retrying.
          const until = Date.now() + 12_000;
          while (Date.now() < until && !envs.some((e) => e.inFlight.some((d) => d.status !== 'queued')))
            await sleep(50);
        }
        const flying = envs
          .flatMap((e) => e.inFlight)
          .map((d) => `${d.release}→${d.environment} ${d.status}`)
          .join(', ');
        const killedAt = Date.now();
        await killService();
        const restartMs = await startService();
        killLog.push({ at: killedAt, inFlight: flying || '-', restartMs });
        say(
          `  ${since(killedAt)} s: kill -9 #${k + 1} (in flight: ${flying || 'none'}); ready again ${(restartMs / 1000).toFixed(1)} s later`,
        );
      }
    })();
    await Promise.all([tags, outage, kills]);

    // Settle: every environment on the release of the newest tag, nothing in flight.
    const lastTag = TAGS[TAGS.length - 1];
    const s0 = Date.now();
    let settledAt = 0;
    while (Date.now() - s0 < SETTLE_MS) {
      const newest = releases[0];
      if (
        newest?.packages.some((p) => p.tag === lastTag) &&
        envs.length === ENVS.length &&
        envs.every((e) => e.current?.release === newest.number && e.inFlight.length === 0)
      ) {
        settledAt = Date.now();
        break;
      }
      await sleep(500);
    }
    sampling = false;
    await sampler;

    // The checks, on fresh answers.
    const checks: Array<[string, boolean, string]> = [];
    const envNow = (await call('GET', `/projects/${PROJECT}/environments`)).environments as typeof envs;
    const rel = (await call('GET', `/projects/${PROJECT}/releases?limit=100`)).releases as typeof releases;
    const newest = rel[0];
    checks.push([
      'settled within the bound',
      settledAt > 0,
      settledAt
        ? `${((settledAt - s0) / 1000).toFixed(1)} s after the last fault`
        : `not in ${SETTLE_MS / 1000} s`,
    ]);
    checks.push([
      `newest release carries the newest tag (${lastTag})`,
      !!newest?.packages.some((p) => p.tag === lastTag),
      `${newest?.number}: ${newest?.packages.map((p) => `${p.name} ${p.tag}`).join(', ')}`,
    ]);
    checks.push([
      'every environment current = newest release',
      envNow.every((e) => e.current?.release === newest?.number),
      envNow.map((e) => `${e.name} ${e.current?.release ?? '-'}`).join(', '),
    ]);
    const overlays = ENVS.map((e) => {
      const text = git.show('deploy', `overlays/${e}/kustomization.yaml`);
      return [e, /newTag: (\S+)/.exec(text)?.[1] ?? '?'] as const;
    });
    checks.push([
      'overlays on main hold the newest tag',
      overlays.every(([, t]) => t === lastTag),
      overlays.map(([e, t]) => `${e} ${t}`).join(', '),
    ]);
    const numbers = rel.map((r) => r.number);
    const twice = numbers.filter((n, i) => numbers.indexOf(n) !== i);
    const versions = rel.map((r) => r.packages.map((p) => p.tag).join('+'));
    const tagTwice = versions.filter((v, i) => versions.indexOf(v) !== i);
    checks.push([
      'no release number created twice',
      twice.length === 0,
      `${numbers.length} releases${twice.length ? `; twice: ${twice.join(', ')}` : ''}`,
    ]);
    checks.push([
      'no tag released twice',
      tagTwice.length === 0,
      tagTwice.length ? `twice: ${tagTwice.join(', ')}` : `${versions.length} tags, each once`,
    ]);
    const deployments: Deployment[] = [];
    for (const r of rel)
      deployments.push(
        ...((await call('GET', `/projects/${PROJECT}/releases/${r.number}/deployments`))
          .deployments as Deployment[]),
      );
    const byStatus = new Map<string, number>();
    for (const d of deployments) byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1);
    const failedDeps = deployments.filter((d) => d.status === 'failed');
    checks.push([
      'no deployment left failed',
      failedDeps.length === 0,
      failedDeps.map((d) => `${d.release}→${d.environment}: ${d.error}`).join('; ') || 'none failed',
    ]);
    const commits = git.log('deploy').filter((s) => s !== 'seed');
    const succeeded = byStatus.get('succeeded') ?? 0;
    // The repository's history, compared with the ledger's successful deployments, one by one.
    const wanted = deployments
      .filter((d) => d.status === 'succeeded')
      .map((d) => `Deploy ${PROJECT} ${d.release} to ${d.environment}`)
      .sort();
    const got = [...commits].sort();
    checks.push([
      'one Git commit per successful deployment',
      JSON.stringify(wanted) === JSON.stringify(got),
      `${commits.length} commits, ${succeeded} succeeded deployments` +
        (JSON.stringify(wanted) === JSON.stringify(got)
          ? ''
          : `; commits not in the ledger: ${got.filter((c) => !wanted.includes(c)).join(', ') || '-'}; ` +
            `deployments without a commit: ${wanted.filter((c) => !got.includes(c)).join(', ') || '-'}`),
    ]);
    const inDeploy = killLog.filter((k) => k.inFlight !== '-').length;
    const maxAttempts = Math.max(...deployments.map((d) => d.attempts));

    say('');
    say('| figure | value |');
    say('| --- | --- |');
    say(
      `| releases | ${rel.length} (${rel
        .map((r) => `${r.number}=${r.packages[0]?.tag}`)
        .reverse()
        .join(', ')}) |`,
    );
    say(
      `| deployments by status | ${[...byStatus].map(([s, n]) => `${s} ${n}`).join(', ')} (total ${deployments.length}; most attempts ${maxAttempts}) |`,
    );
    say(`| Git commits on main (besides the seed) | ${commits.length} |`);
    say(
      `| kill -9s (process group: node + dev server) | ${killLog.length}, ${inDeploy} with a deployment in flight; restart to ready p50 ${(
        [...killLog].sort((a, b) => a.restartMs - b.restartMs)[Math.floor(killLog.length / 2)]?.restartMs /
        1000
      ).toFixed(1)} s, max ${(Math.max(...killLog.map((k) => k.restartMs)) / 1000).toFixed(1)} s |`,
    );
    say(`| Git outage | ${GIT_OUTAGE_S} s (connections refused) |`);
    say(
      `| Git's return → prod holds the then-newest release (${newestAtGitReturn ?? '?'}) | ${
        prodHealedAt ? `${((prodHealedAt - gitBackAt) / 1000).toFixed(1)} s` : 'never'
      } |`,
    );
    say(
      `| last fault → every environment on ${newest?.number} | ${settledAt ? `${((settledAt - s0) / 1000).toFixed(1)} s` : 'not settled'} |`,
    );
    say(
      `| ${TAGS[TAGS.length - 1]} pushed → every environment on its release (trigger every ${INTERVAL} s) | ${
        allNewestAt ? `${((allNewestAt - lastPushAt) / 1000).toFixed(1)} s` : 'never seen'
      } |`,
    );
    say(`| total run time | ${((Date.now() - t0) / 1000).toFixed(0)} s |`);
    say('');
    for (const [name, ok, detail] of checks) {
      say(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
      if (!ok) failed = true;
    }
    if (failed)
      for (const d of deployments)
        say(
          `  ${d.release} ${d.environment} ${d.status} attempts ${d.attempts}${d.error ? ` (${d.error})` : ''}`,
        );
    // Git working folders the service left in its temporary folder: a deployment must clean up after itself.
    const leftovers = readdirSync(serviceTmp).filter((f) => f.startsWith('feed-triggers-git'));
    say(`Git working folders left in the service's TMPDIR: ${leftovers.length}`);
  } finally {
    clearTimeout(hard);
    await stopAll();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
