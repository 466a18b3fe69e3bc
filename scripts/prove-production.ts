import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { freePort, pushImage, TestRegistry } from '../test/support/registry';
import { startPostgres } from '../test/support/postgres';
import { eventually } from '../test/support/temporal';
import { describeBurst, sendBurst } from './receiver-burst';
import { checkProductionTemporal, startProductionTemporal, stopChild as stop } from './production-temporal';

/**
 * `npm run prove:production`: the production path end to end, on a real Temporal server (not the dev
 * server) persisting to PostgreSQL, as docker-compose.yml runs it: Temporal's schema set up with its SQL
 * tool, one `feed-triggers api` and two `feed-triggers worker`s reached through TEMPORAL_ADDRESS, the ledger
 * on PostgreSQL through DATABASE_URL, the first admin token made with the CLI on the database, a project
 * and trigger applied through the API with that token. It checks readiness, a release from a first poll,
 * a release seconds after a registry notification, a worker drained by SIGTERM while the other carries
 * on, and /metrics of both roles. Needs the Temporal server and SQL tool binaries:
 * `go install go.temporal.io/server/cmd/server@v1.29.1` and `…/cmd/tools/sql@v1.29.1` (or
 * TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH). Stops everything it started.
 */
const say = (line: string) => process.stdout.write(`${line}\n`);
const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../src/cli.js');

async function main(): Promise<void> {
  checkProductionTemporal();
  const stops: Array<() => Promise<void> | void> = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-production-'));
  const roles: Array<{ name: string; port: number; child: ChildProcess; out: string }> = [];
  try {
    const t0 = Date.now();
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const pgUrl = new URL(pg.url);
    const temporal = await startProductionTemporal({ postgresUrl: pg.url, dir });
    stops.push(() => temporal.stop());
    const admin = new PgClient({ connectionString: pg.url });
    await admin.connect();
    await admin.query('CREATE DATABASE feed_triggers');
    await admin.end();
    say(
      `PostgreSQL with Temporal's schema (temporal, temporal_visibility) and feed_triggers: ${((Date.now() - t0) / 1000 - temporal.startSeconds).toFixed(1)} s`,
    );
    const address = temporal.address;
    say(`Temporal server ${address} on PostgreSQL, default namespace: ${temporal.startSeconds.toFixed(1)} s`);

    const registry = await TestRegistry.start();
    stops.push(() => registry.stop());
    await pushImage(registry.url, 'prod/app', '1.0.0');
    const config = path.join(dir, 'feed-triggers.yaml');
    writeFileSync(
      config,
      `feeds:\n  - { id: prod, url: "${registry.url}" }\nreceiverSecrets:\n  ci: { env: PROVE_RECEIVER_SECRET }\n`,
    );
    const databaseUrl = `postgres://postgres@127.0.0.1:${pgUrl.port}/feed_triggers`;
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      FEED_TRIGGERS_CONFIG: config,
      FEED_TRIGGERS_DATA_DIR: dir,
      // Listening on every interface, as in a container: the service refuses to start without a token.
      FEED_TRIGGERS_API_HOST: '0.0.0.0',
      PROVE_RECEIVER_SECRET: RECEIVER_SECRET,
    };

    // Refused without a token; the first admin token made on the database with the CLI.
    const refused = await run(process.execPath, [path.resolve(__dirname, '../src/main.js'), 'api'], {
      env: { ...env, FEED_TRIGGERS_API_PORT: String(await freePort()) },
      timeout: 60_000,
    }).then(
      () => 0,
      (err: { code: number }) => err.code,
    );
    if (refused !== 2) throw new Error(`the api role started on 0.0.0.0 without a token (exit ${refused})`);
    const created = await run(process.execPath, [CLI, 'token', 'create', 'prod-admin', '--role', 'admin'], {
      env,
    });
    const token = created.stdout.trim().split('\n').at(-1)!;
    if (!/^ft_/.test(token)) throw new Error(`token create printed ${created.stdout}`);
    say(
      'api refused to start on 0.0.0.0 without a token (exit 2); admin token made with `token create` on DATABASE_URL',
    );

    for (const name of ['api', 'worker', 'worker']) {
      const port = await freePort();
      const child = spawn(process.execPath, [path.resolve(__dirname, '../src/main.js'), name], {
        env: { ...env, FEED_TRIGGERS_API_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const role = { name: `${name} ${roles.length}`, port, child, out: '' };
      child.stdout!.on('data', (d: Buffer) => (role.out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (role.out += d.toString()));
      stops.push(() => stop(child));
      roles.push(role);
    }
    for (const role of roles) {
      const ready = await eventually(
        async () => {
          if (role.child.exitCode !== null) throw new Error(`${role.name} exited: ${role.out.slice(-2000)}`);
          const res = await fetch(`http://127.0.0.1:${role.port}/readyz`);
          return res.status === 200 ? ((await res.json()) as unknown) : undefined;
        },
        `${role.name} to be ready`,
        120_000,
      );
      say(`${role.name}: /readyz ${JSON.stringify(ready)}`);
    }
    const api = `http://127.0.0.1:${roles[0].port}`;
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    const whoami = await call('GET', '/whoami');
    if (whoami.role !== 'admin') throw new Error(`whoami: ${JSON.stringify(whoami)}`);

    const manifest = path.join(dir, 'manifest.yaml');
    writeFileSync(
      manifest,
      [
        'projects:',
        '  - name: prod',
        '    packages: [{ name: app, feed: prod, package: prod/app }]',
        '    triggers:',
        '      - { name: app, intervalSeconds: 3600 }',
        '',
      ].join('\n'),
    );
    const t2 = Date.now();
    await run(process.execPath, [CLI, 'apply', '-f', manifest, '--api', api], {
      env: { ...process.env, FEED_TRIGGERS_TOKEN: token },
    });
    const releaseOf = (n: number) =>
      eventually(
        async () => {
          const { releases } = (await call('GET', '/projects/prod/releases')) as {
            releases: Array<{ number: string; packages: Array<{ tag: string }> }>;
          };
          return releases.length >= n ? releases[0] : undefined;
        },
        `release ${n}`,
        60_000,
      );
    const first = await releaseOf(1);
    say(
      `apply -f, first poll, release ${first.number} (app ${first.packages[0].tag}): ${((Date.now() - t2) / 1000).toFixed(1)} s`,
    );

    await pushImage(registry.url, 'prod/app', '1.1.0');
    const t3 = Date.now();
    await call('POST', '/webhooks/registry?feed=prod', {
      events: [{ action: 'push', target: { repository: 'prod/app', tag: '1.1.0' } }],
    });
    const second = await releaseOf(2);
    say(
      `registry notification to release ${second.number} (app ${second.packages[0].tag}): ${Date.now() - t3} ms`,
    );

    // SIGTERM drains worker 1; worker 2 carries every trigger from then on.
    const drained = roles[1];
    drained.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => drained.child.once('exit', r));
    if (code !== 0) throw new Error(`worker 1 exited ${code} on SIGTERM: ${drained.out.slice(-2000)}`);
    await pushImage(registry.url, 'prod/app', '1.2.0');
    const t4 = Date.now();
    await call('POST', '/triggers/prod/app/poll');
    const third = await releaseOf(3);
    say(
      `worker 1 drained on SIGTERM (exit 0); worker 2 polled: release ${third.number} (app ${third.packages[0].tag}) in ${Date.now() - t4} ms`,
    );

    for (const role of [roles[0], roles[2]]) {
      const text = await (await fetch(`http://127.0.0.1:${role.port}/metrics`)).text();
      const wanted = role.name.startsWith('api')
        ? /^feed_triggers_api_requests_total\{method="POST",route="\/triggers\/:project\/:name\/poll",status="202"\} 1$/m
        : /^feed_triggers_releases_created_total\{source="trigger"\} [1-9]/m;
      if (!wanted.test(text)) throw new Error(`${role.name}: /metrics lacks ${wanted.source}`);
      if (role.name.startsWith('worker') && !/^temporal_\w+/m.test(text))
        throw new Error(`${role.name}: /metrics lacks the SDK's temporal_* metrics`);
    }
    const audit = (await call('GET', '/audit?limit=10')) as {
      records: Array<{ actor: string; route: string }>;
    };
    if (!audit.records.some((r) => r.actor === 'prod-admin' && r.route === '/triggers/:project/:name/poll'))
      throw new Error('the poll is not in the audit log');
    say(
      '/metrics: API requests on the api, releases and temporal_* SDK metrics on the worker; the poll is in the audit log',
    );
    const logLines = roles.map((r) => r.out.split('\n').filter((l) => l.startsWith('{')).length);
    say(`JSON log lines at info: ${logLines.join(' / ')} (api / worker 1 / worker 2)`);
    await burst(call, api, registry, token, dir);
    say('production path: OK');
  } catch (err) {
    // What each role logged last (a 500 from the API names the service log): its JSON log lines only,
    // which the logger redacts; a first start prints its admin token on a plain line, never shown here.
    for (const role of roles) {
      const logged = role.out.split('\n').filter((l) => l.startsWith('{'));
      process.stderr.write(`--- ${role.name}, last log lines:\n${logged.slice(-15).join('\n')}\n`);
    }
    throw err;
  } finally {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    // Everything it wrote (the server's and PostgreSQL's data, configuration, manifests) is under `dir`.
    rmSync(dir, { recursive: true, force: true });
  }
}

const RECEIVER_SECRET = 'Pr0ve-Receiver-Secret';

/**
 * 1,000 signed notifications at 100 a second for 50 packages, to the api process (its own process, as in
 * production), each watched by one trigger that releases once.
 */
async function burst(
  call: (method: string, p: string, body?: unknown) => Promise<Record<string, unknown>>,
  api: string,
  registry: TestRegistry,
  token: string,
  dir: string,
): Promise<void> {
  const { url } = (await call('POST', '/receivers', {
    name: 'ci',
    type: 'generic-hmac',
    secret: { secret: 'ci' },
  })) as { url: string };
  const names = Array.from({ length: 50 }, (_, i) => `burst${i}`);
  await Promise.all(names.map((n) => pushImage(registry.url, `burst/${n}`, '1.0.0')));
  const manifest = names
    .map(
      (n) =>
        `  - name: ${n}\n    packages: [{ name: app, feed: prod, package: burst/${n} }]\n    triggers: [{ name: app, intervalSeconds: 3600 }]`,
    )
    .join('\n');
  const file = path.join(dir, 'burst.yaml');
  writeFileSync(file, `projects:\n${manifest}\n`);
  await run(process.execPath, [CLI, 'apply', '-f', file, '--api', api], {
    env: { ...process.env, FEED_TRIGGERS_TOKEN: token },
  });
  const releases = async (n: string) =>
    (
      (await call('GET', `/projects/${n}/releases`)) as {
        releases: Array<{ packages: Array<{ tag: string }> }>;
      }
    ).releases;
  for (const n of names)
    await eventually(
      async () => ((await releases(n)).length >= 1 ? true : undefined),
      `${n}'s first release`,
      60_000,
    );
  await Promise.all(names.map((n) => pushImage(registry.url, `burst/${n}`, '1.1.0')));
  const result = await sendBurst({
    api,
    hook: url,
    secret: RECEIVER_SECRET,
    feed: 'prod',
    packages: names.map((n) => `burst/${n}`),
    probe: () => call('GET', '/projects/burst0'),
  });
  if (result.refused > 0) throw new Error(`${result.refused} of 1,000 notifications were not accepted`);
  const polls: number[] = [];
  for (const n of names) {
    await eventually(
      async () => ((await releases(n))[0]?.packages[0].tag === '1.1.0' ? true : undefined),
      `${n}'s release of 1.1.0`,
      60_000,
    );
    if ((await releases(n)).length !== 2) throw new Error(`${n} released more than once`);
    const { history } = (await call('GET', `/triggers/${n}/app/history`)) as {
      history: Array<{ source?: string }>;
    };
    polls.push(history.filter((h) => h.source === 'webhook ci').length);
  }
  polls.sort((a, b) => a - b);
  say(
    `receiver burst on the api process, 50 packages: ${describeBurst(result)}; ` +
      `polls per trigger median ${polls[25]}, max ${polls[49]} for 20 notifications each; one release each`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`prove:production failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
