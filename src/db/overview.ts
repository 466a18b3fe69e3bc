import { Kysely, sql } from 'kysely';
import { planFor } from '../domain/deployment';
import {
  ACTIVE_STATUSES,
  ApprovalState,
  DeploymentState,
  DeploymentStatus,
  lanePlan,
  laneProgress,
  phaseStates,
} from '../domain/lifecycle';
import { tenantedMode } from '../domain/project';
import { TenantedDeployments } from '../domain/tenant';
import { Schema } from './schema';

/** What one lane (an environment's untenanted deployments, or one tenant's there) shows on the dashboard. */
export interface LaneCell {
  /** The release deployed there now (its last successful deployment). */
  readonly current: { readonly release: string; readonly deployedAt: string | null } | null;
  /** The newest deployment asked for there, whatever its outcome. */
  readonly latest: {
    readonly release: string;
    readonly status: DeploymentStatus;
    readonly queuedAt: string;
    readonly finishedAt: string | null;
    readonly error: string | null;
  } | null;
  /** How many deployments are scheduled, queued, deploying or retrying there (as a project's `inFlight`). */
  readonly inFlight: number;
  /** The newest release (of any channel) whose phase holding this environment waits for an approval. */
  readonly awaitingApproval: { readonly release: string; readonly phase: string } | null;
}

/** A tenant's lane in an environment. */
export interface TenantCell extends LaneCell {
  readonly tenant: string;
}

/**
 * One environment of one project as the dashboard shows it: the untenanted deployments, and for a tenanted
 * project `tenants`, one cell per tenant connected to the environment (by name).
 */
export interface EnvironmentCell extends LaneCell {
  readonly name: string;
  readonly tenants?: TenantCell[];
}

export interface ProjectOverview {
  readonly project: string;
  /** Whether its deployments go to tenants (then its environments carry `tenants`). */
  readonly tenantedDeployments: TenantedDeployments;
  /** The project's newest release, whatever its channel. */
  readonly newestRelease: {
    readonly number: string;
    readonly channel: string;
    readonly createdAt: string;
  } | null;
  readonly environments: EnvironmentCell[];
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/**
 * What is deployed where, for every project at once: five queries whatever the number of projects, so a
 * dashboard of hundreds of projects is one call (the per-project `/projects/:p/environments` costs three
 * queries per environment).
 */
export async function environmentsOverview(db: Kysely<Schema>): Promise<ProjectOverview[]> {
  const projects = await db
    .selectFrom('projects')
    .select(['id', 'name', 'spec'])
    .where('deleted_at', 'is', null)
    .orderBy('name')
    .execute();
  const latest = await sql<{
    project_id: number;
    environment: string;
    tenant: string;
    number: string;
    status: DeploymentStatus;
    queued_at: Date;
    finished_at: Date | null;
    error: string | null;
  }>`
    SELECT DISTINCT ON (d.project_id, d.environment, d.tenant)
      d.project_id, d.environment, d.tenant, r.number, d.status, d.queued_at, d.finished_at, d.error
    FROM deployments d JOIN releases r ON r.id = d.release_id
    ORDER BY d.project_id, d.environment, d.tenant, d.id DESC`.execute(db);
  const current = await sql<{
    project_id: number;
    environment: string;
    tenant: string;
    number: string;
    finished_at: Date | null;
  }>`
    SELECT DISTINCT ON (d.project_id, d.environment, d.tenant)
      d.project_id, d.environment, d.tenant, r.number, d.finished_at
    FROM deployments d JOIN releases r ON r.id = d.release_id
    WHERE d.status = 'succeeded'
    ORDER BY d.project_id, d.environment, d.tenant, d.finished_at DESC, d.id DESC`.execute(db);
  const inFlight = await sql<{ project_id: number; environment: string; tenant: string; n: number }>`
    SELECT project_id, environment, tenant, count(*)::int AS n FROM deployments
    WHERE status IN (${sql.join([...ACTIVE_STATUSES])}) GROUP BY project_id, environment, tenant`.execute(db);
  const newest = await sql<{ project_id: number; number: string; channel: string; created_at: Date }>`
    SELECT DISTINCT ON (project_id) project_id, number, channel, created_at FROM releases
    ORDER BY project_id, id DESC`.execute(db);
  // Only each channel's newest release can be waiting: an older one is superseded by it. Deployments and
  // approvals are keyed by lane (`laneKey`: `env` or `env/tenant`, `phase` or `phase/tenant`).
  const candidates = await sql<{
    id: number;
    project_id: number;
    number: string;
    channel: string;
    deployments: Record<string, DeploymentState>;
    approvals: Record<string, ApprovalState>;
  }>`
    WITH newest AS (
      SELECT DISTINCT ON (project_id, channel) id, project_id, number, channel FROM releases
      ORDER BY project_id, channel, id DESC)
    SELECT n.id, n.project_id, n.number, n.channel,
      COALESCE((SELECT jsonb_object_agg(CASE WHEN d.tenant = '' THEN d.environment
            ELSE d.environment || '/' || d.tenant END, jsonb_build_object('id', d.id, 'status', d.status))
        FROM (SELECT DISTINCT ON (environment, tenant) environment, tenant, id, status FROM deployments
              WHERE release_id = n.id ORDER BY environment, tenant, id DESC) d), '{}'::jsonb) AS deployments,
      COALESCE((SELECT jsonb_object_agg(CASE WHEN a.tenant = '' THEN a.phase ELSE a.phase || '/' || a.tenant END,
          jsonb_build_object('decision', a.decision, 'by', a.decided_by, 'comment', a.comment))
        FROM approvals a WHERE a.release_id = n.id), '{}'::jsonb) AS approvals
    FROM newest n ORDER BY n.id`.execute(db);
  const key = (p: number, e: string, t = '') => `${p}\u0000${e}\u0000${t}`;
  const latestBy = new Map(latest.rows.map((r) => [key(r.project_id, r.environment, r.tenant), r]));
  const currentBy = new Map(current.rows.map((r) => [key(r.project_id, r.environment, r.tenant), r]));
  const inFlightBy = new Map(inFlight.rows.map((r) => [key(r.project_id, r.environment, r.tenant), r.n]));
  const newestBy = new Map(newest.rows.map((r) => [r.project_id, r]));
  const specBy = new Map(projects.map((p) => [p.id, p.spec]));
  const awaitingBy = new Map<string, { release: string; phase: string }>();
  // Ordered by release id, so the newest waiting release of a project wins a lane. Each lane (the
  // untenanted deployments, each tenant) goes through the phases on its own.
  for (const r of candidates.rows) {
    const spec = specBy.get(r.project_id);
    const plan = spec ? planFor(spec, r.channel) : null;
    if (!plan) continue;
    const progress = { deployments: r.deployments, approvals: r.approvals };
    for (const tenant of [undefined, ...Object.keys(plan.tenants ?? {})]) {
      const seen = lanePlan(plan, tenant);
      const states = phaseStates(seen, laneProgress(progress, tenant));
      seen.phases.forEach((phase, i) => {
        if (states[i].state !== 'awaiting-approval') return;
        for (const env of phase.environments)
          awaitingBy.set(key(r.project_id, env, tenant), { release: r.number, phase: phase.name });
      });
    }
  }
  const lane = (p: number, environment: string, tenant = ''): LaneCell => {
    const l = latestBy.get(key(p, environment, tenant));
    const c = currentBy.get(key(p, environment, tenant));
    return {
      current: c ? { release: c.number, deployedAt: iso(c.finished_at) } : null,
      latest: l
        ? {
            release: l.number,
            status: l.status,
            queuedAt: iso(l.queued_at)!,
            finishedAt: iso(l.finished_at),
            error: l.error,
          }
        : null,
      inFlight: inFlightBy.get(key(p, environment, tenant)) ?? 0,
      awaitingApproval: awaitingBy.get(key(p, environment, tenant)) ?? null,
    };
  };
  return projects.map((p) => {
    const n = newestBy.get(p.id);
    const mode = tenantedMode(p.spec);
    return {
      project: p.name,
      tenantedDeployments: mode,
      newestRelease: n ? { number: n.number, channel: n.channel, createdAt: iso(n.created_at)! } : null,
      environments: p.spec.environments.map((env) => ({
        name: env.name,
        ...lane(p.id, env.name),
        ...(mode === 'untenanted'
          ? {}
          : {
              tenants: (p.spec.tenants ?? [])
                .filter((c) => c.environments.includes(env.name))
                .map((c) => c.tenant)
                .sort()
                .map((tenant) => ({ tenant, ...lane(p.id, env.name, tenant) })),
            }),
      })),
    };
  });
}

/** What is deployed where, for every project at once (the console's dashboard). */
export class OverviewStore {
  constructor(private readonly db: Kysely<Schema>) {}

  environments(): Promise<ProjectOverview[]> {
    return environmentsOverview(this.db);
  }
}
