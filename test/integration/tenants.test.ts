import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProjectSpecInput } from '../../src/domain/project';
import { environmentWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from '../support/api';
import { runCliCapturing } from '../support/cli';
import { GitServer, startGitServer } from '../support/git-server';
import { startServer, TestServer } from '../support/http-server';
import { recordWebRelease } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let env: TestWorkerEnv;
let api: TestApi;
let git: GitServer;
let hook: TestServer;

beforeAll(async () => {
  git = await startGitServer();
  hook = await startServer((_req, res) => void res.writeHead(200).end());
  env = await startTestWorker();
  api = await startApi(env);
});

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await hook?.close();
  await git?.close();
});

const TENANTS = [
  { name: 'acme', description: 'ACME Corp.', tags: ['region/eu', 'tier/gold'] },
  { name: 'globex', description: 'Globex', tags: ['region/us', 'tier/gold'] },
  { name: 'initech', description: 'Initech', tags: ['region/eu'] },
];

const kustomization = (image: string) =>
  `resources:\n  - ../../../base\nimages:\n  - name: ${image}\n    newTag: 0.9.0 # set by feed-triggers\n`;

/**
 * A tenanted project: dev (automatic) writes each tenant's overlay in one Git repository; prod (an approval,
 * then a person's deploy) calls a webhook with the tenant.
 */
function project(name: string, repo: string): ProjectSpecInput {
  return {
    name,
    packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
    environments: [
      {
        name: 'dev',
        targets: [
          {
            name: 'gitops',
            type: 'git',
            url: repo,
            files: [
              {
                path: 'overlays/{environment}/{tenant}/kustomization.yaml',
                format: 'kustomize',
                package: 'web',
              },
            ],
            message: 'Deploy {release} to {environment} for {tenant}',
          },
        ],
      },
      { name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/${name}` }] },
    ],
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'dev', environments: ['dev'], automatic: true },
          { name: 'prod', environments: ['prod'], approval: true },
        ],
      },
    ],
    lifecycle: 'standard',
    tenantedDeployments: 'tenanted',
    tenants: TENANTS.map((t) => ({ tenant: t.name, environments: ['dev', 'prod'] })),
  };
}

/** Records a release of `name` (web at `tag`) as a trigger would; its workflow starts the lifecycle. */
const release = (name: string, tag: string) => recordWebRelease(env, name, tag);

interface Lane {
  tenant: string;
  current: { release: string } | null;
  inFlight: unknown[];
}

/** Each tenant's release in an environment, from the dashboard's data. */
async function board(name: string, environment: string): Promise<Record<string, string | null>> {
  const res = await api.request('GET', `/projects/${name}/environments`);
  expect(res.status).toBe(200);
  const env = res.body.environments.find((e: { name: string }) => e.name === environment);
  return Object.fromEntries((env.tenants as Lane[]).map((t) => [t.tenant, t.current?.release ?? null]));
}

async function saveTenants(): Promise<void> {
  for (const t of TENANTS) {
    const res = await api.request('PUT', `/tenants/${t.name}`, { description: t.description, tags: t.tags });
    expect([200, 201]).toContain(res.status);
  }
}

describe('tenants', () => {
  test('a tenanted project whose automatic phase deploys to three tenants’ overlays with exactly one commit each', async () => {
    const name = 'tnt-overlays';
    // The image as the manifests name it: the package's repository.
    const image = `${name}/web`;
    const repo = git.createRepo(name, {
      'base/kustomization.yaml': 'resources: []\n',
      ...Object.fromEntries(
        TENANTS.map((t) => [`overlays/dev/${t.name}/kustomization.yaml`, kustomization(image)]),
      ),
    });
    await saveTenants();
    const saved = await api.request('PUT', `/projects/${name}`, project(name, repo));
    expect(saved.status).toBe(201);
    const number = await release(name, '1.4.0');

    await eventually(async () => {
      const lanes = await board(name, 'dev');
      return Object.values(lanes).every((r) => r === number) ? lanes : undefined;
    }, 'every tenant deployed in dev');
    expect(await board(name, 'dev')).toEqual({ acme: number, globex: number, initech: number });
    // One commit per tenant, each touching that tenant's overlay only.
    expect(git.log(name).sort()).toEqual(
      ['seed', ...TENANTS.map((t) => `Deploy ${number} to dev for ${t.name}`)].sort(),
    );
    for (const t of TENANTS)
      expect(git.show(name, `overlays/dev/${t.name}/kustomization.yaml`)).toBe(
        kustomization(image).replace('newTag: 0.9.0', 'newTag: 1.4.0'),
      );
    // Each tenant had a queue of its own; there was no untenanted deployment.
    const listed = await api.request('GET', `/projects/${name}/releases/${number}/deployments`);
    expect(
      (listed.body.deployments as { environment: string; tenant?: string; status: string }[])
        .map((d) => `${d.environment}/${d.tenant}:${d.status}`)
        .sort(),
    ).toEqual(['dev/acme:succeeded', 'dev/globex:succeeded', 'dev/initech:succeeded']);
    const acmeQueue = await env.client.workflow
      .getHandle(environmentWorkflowId(name, 'dev', 'acme'))
      .describe();
    expect(acmeQueue.type).toBe('environmentQueue');
    expect(
      listed.body.lifecycle.tenants.map(
        (t: { tenant: string; phases: { state: string }[] }) => t.phases[1].state,
      ),
    ).toEqual(['awaiting-approval', 'awaiting-approval', 'awaiting-approval']);
  });

  test('a deploy names tenants or tenant tags; approvals are per tenant or for all; the webhook hears the tenant', async () => {
    const name = 'tnt-requests';
    const repo = git.createRepo(name, {
      'base/kustomization.yaml': 'resources: []\n',
      ...Object.fromEntries(
        TENANTS.map((t) => [`overlays/dev/${t.name}/kustomization.yaml`, kustomization(`${name}/web`)]),
      ),
    });
    await saveTenants();
    expect((await api.request('PUT', `/projects/${name}`, project(name, repo))).status).toBe(201);
    const number = await release(name, '2.0.0');
    await eventually(async () => {
      const lanes = await board(name, 'dev');
      return Object.values(lanes).every((r) => r === number) ? true : undefined;
    }, 'every tenant deployed in dev');
    const deploy = (body: unknown) =>
      api.request('POST', `/projects/${name}/releases/${number}/deployments`, body);

    // Refused, naming why: untenanted, an unknown tenant, tags nobody has, a tenant without its approval.
    const untenanted = await deploy({ environment: 'prod' });
    expect([untenanted.status, untenanted.body.detail]).toEqual([
      422,
      'this project deploys to tenants only: name tenants or tenant tags',
    ]);
    const unknown = await deploy({ environment: 'prod', tenants: ['acme', 'umbrella'] });
    expect([unknown.status, unknown.body.errors]).toEqual([
      422,
      [
        {
          field: 'tenants.1',
          message: 'tenant umbrella is not connected to environment "prod" of this project',
        },
      ],
    ]);
    const bad = await deploy({ environment: 'prod', tenantTags: ['region'] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('tenantTags.0');
    const approve = (body: Record<string, unknown>) =>
      api.request('POST', `/projects/${name}/releases/${number}/approvals`, {
        phase: 'prod',
        decision: 'approve',
        comment: 'ok',
        ...body,
      });
    expect((await approve({ tenant: 'acme' })).status).toBe(201);
    const eu = await deploy({ environment: 'prod', tenantTags: ['region/eu'] });
    expect([eu.status, eu.body.detail]).toEqual([
      422,
      'tenant initech: phase "prod" needs an approval before anything deploys in it',
    ]);
    expect(hook.requests.filter((r) => r.url === `/${name}`)).toHaveLength(0);

    // For all: every tenant without a decision of its own may go; tags of one set are alternatives.
    expect((await approve({})).status).toBe(201);
    const accepted = await deploy({ environment: 'prod', tenantTags: ['region/eu'] });
    expect(accepted.status).toBe(202);
    expect(accepted.body.deployments.map((d: { tenant: string }) => d.tenant)).toEqual(['acme', 'initech']);
    await eventually(async () => {
      const lanes = await board(name, 'prod');
      return lanes.acme === number && lanes.initech === number ? lanes : undefined;
    }, 'acme and initech deployed in prod');
    expect((await board(name, 'prod')).globex).toBeNull();
    const sent = hook.requests
      .filter((r) => r.url === `/${name}`)
      .map((r) => JSON.parse(r.body) as { tenant: string; environment: string; release: string });
    expect(sent.map((b) => `${b.environment}/${b.tenant}/${b.release}`).sort()).toEqual([
      `prod/acme/${number}`,
      `prod/initech/${number}`,
    ]);
    // A second request for a tenant already deployed and one by name: only globex goes.
    const named = await deploy({ environment: 'prod', tenants: ['globex'] });
    expect([named.status, named.body.deployments.map((d: { tenant: string }) => d.tenant)]).toEqual([
      202,
      ['globex'],
    ]);
  });

  test('tenants are checked input: names, tags, connections, and a connected tenant is not deleted', async () => {
    const badName = await api.request('PUT', '/tenants/Acme%2F..', { tags: [] });
    expect(badName.status).toBe(400);
    expect(badName.body.errors[0].field).toMatch(/^(params\.)?name$/);
    const badTag = await api.request('PUT', '/tenants/tnt-bad', { tags: ['region/eu', 'no-set'] });
    expect([badTag.status, badTag.body.errors[0].field]).toEqual([400, 'tags.1']);
    const long = await api.request('PUT', '/tenants/tnt-bad', { description: 'x'.repeat(1001) });
    expect([long.status, long.body.errors[0].field]).toEqual([400, 'description']);
    const renamed = await api.request('PUT', '/tenants/tnt-bad', { name: 'tnt-other' });
    expect([renamed.status, renamed.body.errors]).toEqual([
      400,
      [{ field: 'name', message: '"tnt-other" does not match the path (tnt-bad)' }],
    ]);

    const name = 'tnt-checks';
    const spec = {
      ...project(name, 'http://127.0.0.1:1/none.git'),
      tenants: [{ tenant: 'tnt-nobody', environments: ['dev'] }],
    };
    const unknown = await api.request('PUT', `/projects/${name}`, spec);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toContainEqual({
      field: 'tenants.0.tenant',
      message: 'no tenant named "tnt-nobody" (PUT /tenants/tnt-nobody first)',
    });
    expect((await api.request('PUT', '/tenants/tnt-kept', {})).status).toBe(201);
    const connected = { ...spec, tenants: [{ tenant: 'tnt-kept', environments: ['dev'] }] };
    expect((await api.request('PUT', `/projects/${name}`, connected)).status).toBe(201);
    const refused = await api.request('DELETE', '/tenants/tnt-kept');
    expect([refused.status, refused.body.detail]).toEqual([
      409,
      `tenant tnt-kept is connected to ${name}: disconnect it there first (their deployments keep its name)`,
    ]);
    const listed = await api.request('GET', '/tenants/tnt-kept');
    expect(listed.body.projects).toEqual([name]);
  });

  test('the CLI applies tenants from a file, approves with --tenant and deploys by --tenant-tag', async () => {
    const name = 'tnt-cli';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tnt-cli-'));
    const cli = (...argv: string[]) =>
      runCliCapturing(argv, { FEED_TRIGGERS_API_URL: api.url, FEED_TRIGGERS_TOKEN: api.token });
    try {
      const file = path.join(dir, 'tenants.yaml');
      writeFileSync(
        file,
        `tenants:
  - { name: tnt-north, description: North, tags: [region/north] }
  - { name: tnt-south, description: South, tags: [region/south] }
projects:
  - name: ${name}
    packages:
      - { name: web, feed: registry.example, package: ${name}/web }
    environments:
      - { name: prod, targets: [{ name: hook, type: webhook, url: "${hook.url}/${name}" }] }
    lifecycles:
      - { name: standard, phases: [{ name: prod, environments: [prod], approval: true }] }
    lifecycle: standard
    tenantedDeployments: tenantedOrUntenanted
    tenants:
      - { tenant: tnt-north, environments: [prod] }
      - { tenant: tnt-south, environments: [prod] }
`,
      );
      const applied = await cli('apply', '-f', file);
      // (Its feed is never read here: the warning that it cannot be reached is expected.)
      expect([applied.code, applied.stderr]).toEqual([0, expect.not.stringMatching(/error/i)]);
      expect(applied.stdout).toContain('tenant/tnt-north created');
      const number = await release(name, '3.0.0');

      const approved = await cli('approve', name, number, 'prod', '--tenant', 'tnt-north', '-m', 'ok');
      expect([approved.code, approved.stdout.trim()]).toEqual([
        0,
        `approval/${name}/${number}/prod approved by ${(await api.request('GET', '/whoami')).body.name}`,
      ]);
      const south = await cli('deploy', name, number, 'prod', '--tenant-tag', 'region/south');
      expect([south.code, south.stderr.trim()]).toEqual([
        1,
        `feed-triggers: POST /projects/${name}/releases/${number}/deployments: 422 tenant tnt-south: phase "prod" needs an approval before anything deploys in it`,
      ]);
      const north = await cli('deploy', name, number, 'prod', '--tenant-tag', 'region/north');
      expect([north.code, north.stdout.trim()]).toEqual([
        0,
        `deployment/${name}/${number}/prod/tnt-north queued`,
      ]);
      // Both ways: the untenanted deployment needs the approval for all, which tnt-north's is not.
      const untenanted = await cli('deploy', name, number, 'prod');
      expect(untenanted.code).toBe(1);
      await eventually(async () => {
        const res = await api.request('GET', `/projects/${name}/environments`);
        const prod = res.body.environments[0];
        return prod.tenants[0].current?.release === number ? prod : undefined;
      }, 'tnt-north deployed in prod');
      const listed = await cli('get', 'tenants');
      expect(listed.stdout).toMatch(/tnt-north\s+region\/north\s+tnt-cli\s+North/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('retention keeps a release while it is the current one of any (environment, tenant)', async () => {
    const name = 'tnt-retained';
    await saveTenants();
    const saved = await api.request('PUT', `/projects/${name}`, {
      name,
      packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
      environments: [
        { name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/${name}` }] },
      ],
      lifecycles: [{ name: 'standard', phases: [{ name: 'prod', environments: ['prod'] }] }],
      lifecycle: 'standard',
      retention: { keepLast: 1 },
      tenantedDeployments: 'tenanted',
      tenants: [
        { tenant: 'acme', environments: ['prod'] },
        { tenant: 'globex', environments: ['prod'] },
      ],
    });
    expect(saved.status).toBe(201);
    const deployed = async (number: string, tenant: string) => {
      const res = await api.request('POST', `/projects/${name}/releases/${number}/deployments`, {
        environment: 'prod',
        tenants: [tenant],
      });
      expect(res.status).toBe(202);
      await eventually(async () => {
        const lanes = await board(name, 'prod');
        return lanes[tenant] === number ? true : undefined;
      }, `${number} deployed for ${tenant}`);
    };
    const first = await release(name, '1.0.0');
    await deployed(first, 'acme');
    const second = await release(name, '1.1.0');
    await deployed(second, 'globex');
    const third = await release(name, '1.2.0');
    const { id } = (await env.ledger.getProject(name))!;
    const remove = () => env.ledger.retention.removeBatch(id, 'default', { keepLast: 1 }, 200);

    // Each older release is the current one of a tenant: nothing goes.
    expect(await remove()).toEqual([]);
    // Once acme holds the newest, the first is current nowhere and goes; the second stays for globex.
    await deployed(third, 'acme');
    expect(await remove()).toEqual([first]);
    const left = await api.request('GET', `/projects/${name}/releases`);
    expect(left.body.releases.map((r: { number: string }) => r.number)).toEqual([third, second]);
  });
});
