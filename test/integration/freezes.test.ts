import { ProjectSpecInput } from '../../src/domain/project';
import { environmentWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from '../support/api';
import { startServer, TestServer } from '../support/http-server';
import { devProdProject, putProject, recordWebRelease } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;
/** The worker started after the first one stops (the first test restarts it). */
let second: TestWorkerEnv | undefined;

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  env = await startTestWorker();
  api = await startApi(env);
});

afterAll(async () => {
  await api?.close();
  await second?.stop();
  await env?.stop();
  await hook?.close();
});

/** `YYYY-MM-DDTHH:MM:SS` on UTC's wall clock, `offsetMs` from now. */
const utcClock = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 19);

/** dev deploys automatically, prod when a person asks; both through the webhook. */
const project = (name: string): ProjectSpecInput =>
  devProdProject(name, 'registry.example', `${hook.url}/deploy`);

/** Records a release of `name` (web at `tag`) as a trigger would; its workflow starts the lifecycle. */
const release = (name: string, tag: string) => recordWebRelease(env, name, tag);

interface DeploymentBody {
  environment: string;
  status: string;
  startedAt: string | null;
  error: string | null;
  freezeOverride: { freeze: string; reason: string; by: string } | null;
}

async function deployment(name: string, number: string, environment: string) {
  const res = await api.request('GET', `/projects/${name}/releases/${number}/deployments`);
  return (res.body.deployments as DeploymentBody[]).find((d) => d.environment === environment);
}

const hooked = (name: string) => hook.requests.filter((r) => JSON.parse(r.body).project === name);

describe('deployment freezes', () => {
  test('a freeze holds an automatic deployment on a timer across a worker restart, and it goes once the freeze ends', async () => {
    const name = 'frz-auto';
    await putProject(env, project(name));
    const saved = await api.request('PUT', '/freezes/frz-auto-dev', {
      timeZone: 'UTC',
      start: utcClock(-60_000),
      end: utcClock(3_600_000),
      projects: [name],
      environments: ['dev'],
    });
    expect(saved.status).toBe(201);
    expect(saved.body.freeze.active).toBe(true);
    const number = await release(name, '1.0.0');

    // Held: queued, with the environment's queue asleep on the freeze's timer, and nothing sent.
    const queue = env.client.workflow.getHandle(environmentWorkflowId(name, 'dev'));
    await eventually(async () => {
      const history = await queue.fetchHistory();
      return history.events?.some((e) => e.timerStartedEventAttributes) ? true : undefined;
    }, 'the dev queue holding on a timer');
    expect((await deployment(name, number, 'dev'))?.status).toBe('queued');
    const board = await api.request('GET', `/projects/${name}/environments`);
    expect(board.body.environments.find((e: { name: string }) => e.name === 'dev').freeze).toMatchObject({
      name: 'frz-auto-dev',
    });
    expect(hooked(name)).toHaveLength(0);

    // The worker stops; meanwhile the freeze is changed to end in 2 s, and ends. Nothing deploys without a
    // worker; a new one finds the queue's timer fired (or its wake) and deploys.
    env.worker.shutdown();
    await eventually(
      async () => (env.worker.getState() === 'STOPPED' ? true : undefined),
      'the worker to stop',
    );
    const end = utcClock(2_000);
    const changed = await api.request('PUT', '/freezes/frz-auto-dev', {
      timeZone: 'UTC',
      start: utcClock(-60_000),
      end,
      projects: [name],
      environments: ['dev'],
    });
    expect(changed.status).toBe(200);
    await eventually(
      async () => (Date.now() > Date.parse(`${end}Z`) + 500 ? true : undefined),
      'the freeze to end',
    );
    expect((await deployment(name, number, 'dev'))?.status).toBe('queued');
    second = await startTestWorker({ taskQueue: env.taskQueue, database: env.database });
    const done = await eventually(async () => {
      const d = await deployment(name, number, 'dev');
      return d?.status === 'succeeded' ? d : undefined;
    }, 'dev deployed after the freeze');
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(`${end}Z`));
    expect(done.freezeOverride).toBeNull();
    expect(hooked(name)).toHaveLength(1);
  });

  test('a person’s deploy during a freeze is 422 naming it; an admin’s override deploys and is audited', async () => {
    const name = 'frz-manual';
    await putProject(env, project(name));
    const number = await release(name, '1.0.0');
    await eventually(
      async () => ((await deployment(name, number, 'dev'))?.status === 'succeeded' ? true : undefined),
      'dev deployed',
    );
    expect(
      (
        await api.request('PUT', '/freezes/frz-prod', {
          description: 'holidays',
          timeZone: 'Europe/Berlin',
          recurring: { every: 'daily', from: '00:00', until: '00:00' },
          projects: [name],
          environments: ['prod'],
        })
      ).status,
    ).toBe(201);
    const path = `/projects/${name}/releases/${number}/deployments`;

    const refused = await api.request('POST', path, { environment: 'prod' });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toContain(`freeze "frz-prod" holds deployments of ${name} to "prod" until`);

    const operator = await api.tokenFor('operator');
    const override = { environment: 'prod', overrideFreeze: { reason: 'hotfix for incident 42' } };
    const denied = await api.request('POST', path, override, { token: operator });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toContain('needs the admin role');

    const sent = await api.request('POST', path, override);
    expect(sent.status).toBe(202);
    expect(sent.body.freezeOverride).toMatchObject({ freeze: 'frz-prod', reason: 'hotfix for incident 42' });
    const done = await eventually(async () => {
      const d = await deployment(name, number, 'prod');
      return d?.status === 'succeeded' ? d : undefined;
    }, 'prod deployed through the freeze');
    expect(done.freezeOverride?.freeze).toBe('frz-prod');
    // The audit record is written once the answer is sent.
    const record = await eventually(async () => {
      const audit = await api.request('GET', '/audit?limit=20');
      return audit.body.records.find((r: { detail: string | null }) =>
        r.detail?.startsWith('freeze frz-prod overridden'),
      );
    }, 'the override in the audit log');
    expect(record).toMatchObject({
      status: 202,
      detail: `freeze frz-prod overridden: ${name} ${number} to prod: hotfix for incident 42`,
    });
  });

  test('a freeze that does not validate is 400 naming the field, and nothing is saved', async () => {
    const bad = await api.request('PUT', '/freezes/frz-bad', {
      timeZone: 'Europe/Atlantis',
      recurring: { every: 'weekly', days: ['caturday'], from: '25:00', until: '06:00' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'recurring.days.0',
      'recurring.from',
      'timeZone',
    ]);
    const renamed = await api.request('PUT', '/freezes/frz-bad', {
      name: 'frz-other',
      timeZone: 'UTC',
      start: utcClock(-60_000),
      end: utcClock(3_600_000),
    });
    expect([renamed.status, renamed.body.detail]).toEqual([
      400,
      'name: "frz-other" does not match the path (frz-bad)',
    ]);
    expect((await api.request('GET', '/freezes/frz-bad')).status).toBe(404);
  });

  test('a lone surrogate in a freeze is 400 naming the field, not a 500 from the ledger', async () => {
    // JSON may escape half a surrogate pair ("\ud800"); PostgreSQL's jsonb refuses it, its text mangles it.
    const bad = await api.request('PUT', '/freezes/frz-surrogate', {
      timeZone: 'UTC',
      description: 'half \ud800 a pair',
      start: '2030-01-01T00:00',
      end: '2030-01-02T00:00',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      { field: 'description', message: expect.stringContaining('surrogate') },
    ]);
    expect((await api.request('GET', '/freezes/frz-surrogate')).status).toBe(404);
  });
});

describe('scheduled deployments', () => {
  /** A project whose release 0.0.1 is in dev, so prod is open to a person. */
  async function ready(name: string): Promise<string> {
    await putProject(env, project(name));
    const number = await release(name, '1.0.0');
    await eventually(
      async () => ((await deployment(name, number, 'dev'))?.status === 'succeeded' ? true : undefined),
      `${name}: dev deployed`,
    );
    return number;
  }
  const toProd = (name: string) => hooked(name).filter((r) => JSON.parse(r.body).environment === 'prod');

  test('a scheduled deployment is listed as scheduled and goes at its time', async () => {
    const name = 'sched-goes';
    const number = await ready(name);
    const deployAt = new Date(Date.now() + 2_000).toISOString();
    const asked = await api.request('POST', `/projects/${name}/releases/${number}/deployments`, {
      environment: 'prod',
      deployAt,
    });
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'scheduled', deployAt, deployAtExpiry: null });
    const done = await eventually(async () => {
      const d = await deployment(name, number, 'prod');
      return d?.status === 'succeeded' ? d : undefined;
    }, 'prod deployed at its time');
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(deployAt));
    expect(toProd(name)).toHaveLength(1);
  });

  test('a cancelled scheduled deployment does not go', async () => {
    const name = 'sched-cancelled';
    const number = await ready(name);
    const path = `/projects/${name}/releases/${number}/deployments`;
    const deployAt = new Date(Date.now() + 2_000).toISOString();
    expect((await api.request('POST', path, { environment: 'prod', deployAt })).status).toBe(202);
    // In flight on the all-projects dashboard too, as in the project's environments.
    const overview = await api.request('GET', '/environments');
    const row = overview.body.projects.find((p: { project: string }) => p.project === name);
    expect(row.environments.find((e: { name: string }) => e.name === 'prod').inFlight).toBe(1);
    const cancelled = await api.request('POST', `${path}/prod/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', deployAt });
    // The prod queue, woken by the cancel, finds nothing left and ends: nothing can deploy after that.
    await env.client.workflow.getHandle(environmentWorkflowId(name, 'prod')).result();
    expect((await deployment(name, number, 'prod'))?.status).toBe('cancelled');
    expect(toProd(name)).toHaveLength(0);
  });

  test('a scheduled deployment a freeze holds past its expiry is cancelled with the reason', async () => {
    const name = 'sched-expired';
    const number = await ready(name);
    await api.request('PUT', '/freezes/sched-expired-prod', {
      timeZone: 'UTC',
      start: utcClock(-60_000),
      end: utcClock(3_600_000),
      projects: [name],
      environments: ['prod'],
    });
    const deployAtExpiry = new Date(Date.now() + 2_500).toISOString();
    const asked = await api.request('POST', `/projects/${name}/releases/${number}/deployments`, {
      environment: 'prod',
      deployAt: new Date(Date.now() + 1_000).toISOString(),
      deployAtExpiry,
    });
    // Scheduled into a freeze: accepted, to be held by it.
    expect(asked.status).toBe(202);
    const ended = await eventually(async () => {
      const d = await deployment(name, number, 'prod');
      return d?.status === 'cancelled' ? d : undefined;
    }, 'prod cancelled at its expiry');
    expect(ended).toMatchObject({
      startedAt: null,
      error: `not started by its deployAtExpiry (${deployAtExpiry.slice(0, 19)}Z)`,
    });
    expect(toProd(name)).toHaveLength(0);
  });

  test('a deployAt in the past or an expiry before it is 400 naming the field', async () => {
    const path = '/projects/sched-goes/releases/0.0.1/deployments';
    const past = await api.request('POST', path, { environment: 'prod', deployAt: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.errors).toEqual([{ field: 'deployAt', message: 'is in the past' }]);
    const backwards = await api.request('POST', path, {
      environment: 'prod',
      deployAt: '2030-01-01T00:00:00Z',
      deployAtExpiry: '2029-12-31T00:00:00Z',
    });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ field: 'deployAtExpiry', message: 'must be after deployAt' }]);
  });
});
