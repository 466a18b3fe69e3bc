import { Kysely, Selectable, sql, Transaction } from 'kysely';
import { ProjectSpec, tenantedMode } from '../domain/project';
import {
  ACTIVE_STATUSES,
  ApprovalState,
  DeploymentState,
  DeploymentStatus,
  RUNNING_STATUSES,
} from '../domain/lifecycle';
import type {
  Approval,
  Deployment,
  DeploymentStart,
  DeploymentSchedule,
  EndedDeployment,
  FreezeOverride,
  NextDeployment,
  ReleaseLifecycle,
  TargetOutcome,
} from '../domain/deployment';
import { planFor } from '../domain/deployment';
import { clip } from '../domain/size';
import { laneKey, laneText } from '../domain/lane';
import { countDeploymentsEnded } from '../observability/metrics';
import { FreezeStore } from './freezes';
import { ApprovalsTable, DeploymentsTable, Schema } from './schema';

type Db = Kysely<Schema> | Transaction<Schema>;

export class DeploymentRefusal extends Error {
  constructor(
    readonly status: 404 | 409 | 422,
    message: string,
  ) {
    super(message);
  }
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/**
 * Deployments and approvals in the ledger. Per environment, deployments run one at a time in request
 * order (the environment's queue workflow asks `next`), a queued deployment of an older release is
 * superseded by a newer release's, and an older release never deploys over a newer one already there
 * unless it was asked for with `force` (a rollback).
 */
export class DeploymentStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly freezes: FreezeStore,
  ) {}

  private async rows(
    db: Db,
    where: (q: ReturnType<DeploymentStore['base']>) => ReturnType<DeploymentStore['base']>,
  ) {
    const rows = await where(this.base(db)).execute();
    return rows.map(toDeployment);
  }

  private base(db: Db) {
    return db
      .selectFrom('deployments as d')
      .innerJoin('releases as r', 'r.id', 'd.release_id')
      .selectAll('d')
      .select('r.number as release_number');
  }

  /** The release's lifecycle and where it stands; null when there is no such release. */
  async lifecycle(releaseId: number, db: Db = this.db): Promise<ReleaseLifecycle | null> {
    const release = await db
      .selectFrom('releases as r')
      .innerJoin('projects as p', 'p.id', 'r.project_id')
      .select(['r.id', 'r.number', 'r.channel', 'p.name', 'p.spec', 'p.deleted_at'])
      .where('r.id', '=', releaseId)
      .executeTakeFirst();
    if (!release) return null;
    const plan = release.deleted_at === null ? planFor(release.spec, release.channel) : null;
    const latest = await db
      .selectFrom('deployments')
      .select(['id', 'environment', 'tenant', 'status'])
      .distinctOn(['environment', 'tenant'])
      .where('release_id', '=', releaseId)
      .orderBy('environment')
      .orderBy('tenant')
      .orderBy('id', 'desc')
      .execute();
    const approvals = await db
      .selectFrom('approvals')
      .selectAll()
      .where('release_id', '=', releaseId)
      .execute();
    const taken = await db
      .selectFrom('deployments')
      .select(['environment', 'tenant'])
      .distinct()
      .where('project_id', '=', (qb) =>
        qb.selectFrom('releases').select('project_id').where('id', '=', releaseId),
      )
      .where('release_id', '>', releaseId)
      .where('status', 'in', [...ACTIVE_STATUSES, 'succeeded'])
      .execute();
    return {
      project: release.name,
      releaseId: release.id,
      number: release.number,
      channel: release.channel,
      plan,
      progress: {
        deployments: Object.fromEntries(
          latest.map((d): [string, DeploymentState] => [
            laneKey(d.environment, d.tenant),
            { id: d.id, status: d.status },
          ]),
        ),
        approvals: Object.fromEntries(
          approvals.map((a): [string, ApprovalState] => [
            laneKey(a.phase, a.tenant),
            { decision: a.decision, by: a.decided_by, comment: a.comment },
          ]),
        ),
        taken: taken.map((t) => laneKey(t.environment, t.tenant)).sort(),
      },
    };
  }

  /**
   * Queues a deployment of the release to the environment, unless one is already queued or deploying
   * (then that one is answered, `created: false`): a retried request queues nothing twice.
   */
  async queue(
    releaseId: number,
    environment: string,
    requestedBy: string,
    forced: boolean,
    now = new Date(),
    freezeOverride: FreezeOverride | null = null,
    schedule: DeploymentSchedule = {},
    tenant = '',
  ): Promise<{ deployment: Deployment; created: boolean }> {
    const deployAt = schedule.deployAt ? new Date(schedule.deployAt) : null;
    const expiry = schedule.deployAtExpiry ? new Date(schedule.deployAtExpiry) : null;
    return this.db.transaction().execute(async (trx) => {
      // Shared-locked until the deployment is in: retention (which locks the releases it removes FOR UPDATE,
      // SKIP LOCKED) passes this release by, or removes it first and this finds no release (404), instead of
      // the insert failing on its foreign key.
      const release = await trx
        .selectFrom('releases')
        .select(['project_id'])
        .where('id', '=', releaseId)
        .forShare()
        .executeTakeFirst();
      if (!release) throw new DeploymentRefusal(404, 'no such release');
      const inserted = await trx
        .insertInto('deployments')
        .values({
          project_id: release.project_id,
          release_id: releaseId,
          environment,
          tenant,
          status: deployAt && deployAt > now ? 'scheduled' : 'queued',
          forced,
          requested_by: requestedBy,
          queued_at: now,
          started_at: null,
          finished_at: null,
          error: null,
          next_attempt_at: null,
          freeze_override: freezeOverride && JSON.stringify(freezeOverride),
          deploy_at: deployAt,
          deploy_at_expiry: expiry,
        })
        .onConflict((oc) =>
          oc
            .columns(['release_id', 'environment', 'tenant'])
            .where('status', 'in', [...ACTIVE_STATUSES])
            .doNothing(),
        )
        .returning('id')
        .executeTakeFirst();
      const [deployment] = await this.rows(trx, (q) =>
        inserted
          ? q.where('d.id', '=', inserted.id)
          : q
              .where('d.release_id', '=', releaseId)
              .where('d.environment', '=', environment)
              .where('d.tenant', '=', tenant)
              .where('d.status', 'in', [...ACTIVE_STATUSES]),
      );
      return { deployment, created: inserted !== undefined };
    });
  }

  /**
   * The deployment an environment's queue runs next: one left deploying by a crash or waiting to retry
   * first, then the oldest queued; with the freeze that holds it, if one does and it has no override. Before choosing, queued or retrying deployments of a release older than
   * one queued, deploying, retrying or deployed there are superseded (unless forced); an environment the
   * project no longer has cancels its queue.
   */
  async next(
    projectName: string,
    environment: string,
    now = new Date(),
    tenant = '',
  ): Promise<NextDeployment> {
    // What the transaction learnt of the deployment it chose, for the freeze check after it.
    const chosen: { overridden: boolean; expiry: Date | null } = { overridden: true, expiry: null };
    const next = await this.db.transaction().execute(async (trx): Promise<NextDeployment> => {
      const project = await trx
        .selectFrom('projects')
        .select(['id', 'spec'])
        .where('name', '=', projectName)
        .where('deleted_at', 'is', null)
        .forUpdate()
        .executeTakeFirst();
      if (!project) return { kind: 'gone' };
      const gone = laneGone(project.spec, environment, tenant);
      if (gone) {
        const ended = await this.endQueued(trx, project.id, environment, tenant, 'cancelled', gone, now);
        return { kind: 'idle', ended };
      }
      const expired = await this.expire(trx, project.id, environment, tenant, now);
      // Scheduled deployments whose time has come join the queue, in request order.
      await trx
        .updateTable('deployments')
        .set({ status: 'queued' })
        .where('project_id', '=', project.id)
        .where('environment', '=', environment)
        .where('tenant', '=', tenant)
        .where('status', '=', 'scheduled')
        .where('deploy_at', '<=', now)
        .execute();
      const ended = [...expired, ...(await this.supersede(trx, project.id, environment, tenant, now))];
      const next = await trx
        .selectFrom('deployments as d')
        .innerJoin('releases as r', 'r.id', 'd.release_id')
        .select(['d.id', 'r.number', 'd.freeze_override', 'd.deploy_at_expiry'])
        .where('d.project_id', '=', project.id)
        .where('d.environment', '=', environment)
        .where('d.tenant', '=', tenant)
        .where('d.status', 'in', [...RUNNING_STATUSES])
        .orderBy(sql`d.status <> 'queued'`, 'desc')
        .orderBy('d.id')
        .limit(1)
        .executeTakeFirst();
      if (!next) {
        const due = await trx
          .selectFrom('deployments')
          .select((eb) => eb.fn.min<Date>('deploy_at').as('at'))
          .where('project_id', '=', project.id)
          .where('environment', '=', environment)
          .where('tenant', '=', tenant)
          .where('status', '=', 'scheduled')
          .executeTakeFirst();
        if (!due?.at) return { kind: 'idle', ended };
        const at = new Date(due.at);
        return {
          kind: 'waiting',
          ended,
          until: at.toISOString(),
          waitMs: Math.max(0, at.getTime() - now.getTime()),
        };
      }
      chosen.overridden = next.freeze_override !== null;
      chosen.expiry = next.deploy_at_expiry;
      return { kind: 'deploy', id: next.id, number: next.number, ended };
    });
    if (next.kind !== 'gone') countDeploymentsEnded(next.ended.map((e) => e.status));
    if (next.kind !== 'deploy' || chosen.overridden) return next;
    // A freeze holds it (unless an admin sent it through): the queue waits for the freeze's end.
    const hold = await this.freezes.holding(projectName, environment, now, tenant || undefined);
    if (!hold) return next;
    // A deployment that expires during the freeze is looked at again when it expires, and cancelled then.
    const expiry = chosen.expiry?.getTime() ?? Infinity;
    const wake = Math.min(expiry, hold.until);
    return {
      ...next,
      frozen: {
        freeze: hold.freeze,
        until: new Date(hold.until).toISOString(),
        holdMs: Math.max(0, wake - now.getTime()),
      },
    };
  }

  /** Deployments not started by their `deployAtExpiry` are cancelled, with the reason. */
  private async expire(
    trx: Transaction<Schema>,
    projectId: number,
    environment: string,
    tenant: string,
    now: Date,
  ): Promise<EndedDeployment[]> {
    const rows = await trx
      .updateTable('deployments as d')
      .set({
        status: 'cancelled',
        finished_at: now,
        next_attempt_at: null,
        error: sql<string>`'not started by its deployAtExpiry (' || to_char(d.deploy_at_expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')'`,
      })
      .from('releases as r')
      .whereRef('r.id', '=', 'd.release_id')
      .where('d.project_id', '=', projectId)
      .where('d.environment', '=', environment)
      .where('d.tenant', '=', tenant)
      .where('d.status', 'in', ['scheduled', 'queued'])
      .where('d.started_at', 'is', null)
      .where('d.deploy_at_expiry', '<=', now)
      .returning(['r.number', 'd.environment', 'd.tenant'])
      .execute();
    return rows.map((r) => ended(r, 'cancelled'));
  }

  private async supersede(
    trx: Transaction<Schema>,
    projectId: number,
    environment: string,
    tenant: string,
    now: Date,
  ) {
    const rows = await trx
      .updateTable('deployments as d')
      .set({
        status: 'superseded',
        finished_at: now,
        next_attempt_at: null,
        error: `a newer release is queued or deployed to ${plainLane(environment, tenant)}; deploying an older release needs force`,
      })
      .from('releases as r')
      .whereRef('r.id', '=', 'd.release_id')
      .where('d.project_id', '=', projectId)
      .where('d.environment', '=', environment)
      .where('d.tenant', '=', tenant)
      .where('d.status', 'in', ['queued', 'retrying'])
      .where('d.forced', '=', false)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('deployments as d2')
            .select(sql`1`.as('one'))
            .whereRef('d2.project_id', '=', 'd.project_id')
            .whereRef('d2.environment', '=', 'd.environment')
            .whereRef('d2.tenant', '=', 'd.tenant')
            .whereRef('d2.release_id', '>', 'd.release_id')
            // A newer release's scheduled deployment supersedes nothing before its time.
            .where('d2.status', 'in', [...RUNNING_STATUSES, 'succeeded']),
        ),
      )
      .returning(['r.number', 'd.environment', 'd.tenant'])
      .execute();
    return rows.map((r) => ended(r, 'superseded'));
  }

  private async endQueued(
    trx: Transaction<Schema>,
    projectId: number,
    environment: string,
    tenant: string,
    status: 'cancelled',
    error: string,
    now: Date,
  ): Promise<EndedDeployment[]> {
    const rows = await trx
      .updateTable('deployments as d')
      .set({ status, finished_at: now, error, next_attempt_at: null })
      .from('releases as r')
      .whereRef('r.id', '=', 'd.release_id')
      .where('d.project_id', '=', projectId)
      .where('d.environment', '=', environment)
      .where('d.tenant', '=', tenant)
      .where('d.status', 'in', [...ACTIVE_STATUSES])
      .returning(['r.number', 'd.environment', 'd.tenant'])
      .execute();
    return rows.map((r) => ended(r, status));
  }

  /**
   * Before a deployment is sent (each attempt): checks it is still wanted, refuses (superseded) an older
   * release over a newer one already in the environment unless forced, and answers what to send with the
   * environment's current targets. `countAttempt`: counts the attempt here (queues started before
   * `attempt` counted requests that left).
   */
  async begin(deploymentId: number, now = new Date(), countAttempt = false): Promise<DeploymentStart> {
    let endedNow: DeploymentStatus | null = null;
    const start = await this.db.transaction().execute(async (trx): Promise<DeploymentStart> => {
      const row = await trx
        .selectFrom('deployments as d')
        .innerJoin('releases as r', 'r.id', 'd.release_id')
        .innerJoin('projects as p', 'p.id', 'd.project_id')
        .selectAll('d')
        .select([
          'r.number',
          'r.channel',
          'r.created_at as release_created_at',
          'r.packages',
          'r.notes',
          'p.spec',
          'p.name',
          'p.deleted_at',
        ])
        .where('d.id', '=', deploymentId)
        .forUpdate('d')
        .executeTakeFirst();
      if (!row) return { kind: 'ended', status: 'cancelled', number: '' };
      if (!(ACTIVE_STATUSES as readonly string[]).includes(row.status))
        return { kind: 'ended', status: row.status, number: row.number };
      const environment =
        row.deleted_at === null ? row.spec.environments.find((e) => e.name === row.environment) : undefined;
      const end = async (status: DeploymentStatus, error: string) => {
        if (await this.finishIn(trx, deploymentId, status, error, {}, now)) endedNow = status;
        return { kind: 'ended' as const, status, number: row.number };
      };
      if (!environment) return end('cancelled', 'the environment was removed');
      const gone = laneGone(row.spec, row.environment, row.tenant);
      if (gone) return end('cancelled', gone);
      if (!row.forced) {
        const current = await this.current(trx, row.project_id, row.environment, row.tenant);
        if (current && current.release_id > row.release_id)
          return end(
            'superseded',
            `release ${current.number} is already deployed to ${plainLane(row.environment, row.tenant)}; deploying an older release needs force`,
          );
      }
      await trx
        .updateTable('deployments')
        .set({
          status: 'deploying',
          next_attempt_at: null,
          started_at: row.started_at ?? now,
          ...(countAttempt ? { attempts: sql<number>`attempts + 1` } : {}),
        })
        .where('id', '=', deploymentId)
        .execute();
      const [deployment] = await this.rows(trx, (q) => q.where('d.id', '=', deploymentId));
      return {
        kind: 'deploy',
        project: row.name,
        deployment,
        environment,
        release: {
          number: row.number,
          channel: row.channel,
          createdAt: row.release_created_at.toISOString(),
          packages: row.packages,
          notes: row.notes,
        },
      };
    });
    if (endedNow) countDeploymentsEnded([endedNow]);
    return start;
  }

  /** Counts an attempt: a request is about to leave for a target. */
  async attempt(deploymentId: number): Promise<void> {
    await this.db
      .updateTable('deployments')
      .set({ attempts: sql<number>`attempts + 1` })
      .where('id', '=', deploymentId)
      .execute();
  }

  /** Records what one target did, as soon as it did it: a retry continues with the targets still missing. */
  async recordTarget(deploymentId: number, target: string, outcome: TargetOutcome): Promise<void> {
    await this.db
      .updateTable('deployments')
      .set({ targets: sql`targets || ${JSON.stringify({ [target]: outcome })}::jsonb` })
      .where('id', '=', deploymentId)
      .execute();
  }

  /**
   * A target was down: the deployment waits `retrying` until `nextAttemptAt`, showing the error. One that
   * ended meanwhile (superseded, cancelled) keeps its status. Answers the status it has.
   */
  async retry(
    deploymentId: number,
    error: string,
    nextAttemptAt: Date,
  ): Promise<{ status: DeploymentStatus; number: string; environment: string }> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('deployments')
        .set({ status: 'retrying', error: clip(error), next_attempt_at: nextAttemptAt })
        .where('id', '=', deploymentId)
        .where('status', 'in', [...ACTIVE_STATUSES])
        .execute();
      const row = await trx
        .selectFrom('deployments as d')
        .innerJoin('releases as r', 'r.id', 'd.release_id')
        .select(['d.status', 'r.number', 'd.environment'])
        .where('d.id', '=', deploymentId)
        .executeTakeFirst();
      return row ?? { status: 'cancelled', number: '', environment: '' };
    });
  }

  /** The release deployed in an environment now: the last successful deployment there. */
  private current(db: Db, projectId: number, environment: string, tenant = '') {
    return db
      .selectFrom('deployments as d')
      .innerJoin('releases as r', 'r.id', 'd.release_id')
      .select(['d.id', 'd.release_id', 'r.number', 'd.finished_at'])
      .where('d.project_id', '=', projectId)
      .where('d.environment', '=', environment)
      .where('d.tenant', '=', tenant)
      .where('d.status', '=', 'succeeded')
      .orderBy('d.finished_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * The newest deployment of a newer release than `releaseId` that is queued, deploying or succeeded in the
   * environment: what would supersede an unforced deployment of this release there (`next` and `begin`).
   */
  async newerIn(
    projectId: number,
    releaseId: number,
    environment: string,
    tenant = '',
  ): Promise<{ number: string; status: DeploymentStatus } | null> {
    const row = await this.db
      .selectFrom('deployments as d')
      .innerJoin('releases as r', 'r.id', 'd.release_id')
      .select(['r.number', 'd.status'])
      .where('d.project_id', '=', projectId)
      .where('d.environment', '=', environment)
      .where('d.tenant', '=', tenant)
      .where('d.release_id', '>', releaseId)
      .where('d.status', 'in', ['queued', 'deploying', 'retrying', 'succeeded'])
      .orderBy('d.release_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { number: row.number, status: row.status } : null;
  }

  /** Records how a deployment ended; one that already ended keeps its status. Answers the status it has. */
  async finish(
    deploymentId: number,
    status: 'succeeded' | 'failed',
    error: string | null,
    targets: Record<string, TargetOutcome>,
    now = new Date(),
  ): Promise<{ status: DeploymentStatus; number: string; environment: string }> {
    let ended = false;
    const result = await this.db.transaction().execute(async (trx) => {
      ended = await this.finishIn(trx, deploymentId, status, error, targets, now);
      const row = await trx
        .selectFrom('deployments as d')
        .innerJoin('releases as r', 'r.id', 'd.release_id')
        .select(['d.status', 'r.number', 'd.environment'])
        .where('d.id', '=', deploymentId)
        .executeTakeFirst();
      return row ?? { status: 'cancelled' as const, number: '', environment: '' };
    });
    if (ended) countDeploymentsEnded([status]);
    return result;
  }

  private async finishIn(
    trx: Transaction<Schema>,
    id: number,
    status: DeploymentStatus,
    error: string | null,
    targets: Record<string, TargetOutcome>,
    now: Date,
  ): Promise<boolean> {
    const result = await trx
      .updateTable('deployments')
      .set({
        status,
        error: error === null ? null : clip(error),
        finished_at: now,
        next_attempt_at: null,
        // Outcomes recorded target by target stay; these are added.
        targets: sql`targets || ${JSON.stringify(targets)}::jsonb`,
      })
      .where('id', '=', id)
      .where('status', 'in', [...ACTIVE_STATUSES])
      .executeTakeFirst();
    // Whether this call ended it: one that had ended already keeps its status and is not counted again.
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Cancels the release's queued (or retrying, between attempts) deployment to the environment; one
   * deploying now cannot be.
   */
  async cancel(releaseId: number, environment: string, now = new Date(), tenant = ''): Promise<Deployment> {
    const cancelled = await this.db.transaction().execute(async (trx) => {
      const active = await trx
        .selectFrom('deployments')
        .select(['id', 'status'])
        .where('release_id', '=', releaseId)
        .where('environment', '=', environment)
        .where('tenant', '=', tenant)
        .where('status', 'in', [...ACTIVE_STATUSES])
        .forUpdate()
        .executeTakeFirst();
      if (!active)
        throw new DeploymentRefusal(
          404,
          `no deployment of this release to ${laneText(environment, tenant)} is queued`,
        );
      if (active.status === 'deploying')
        throw new DeploymentRefusal(
          409,
          `deployment ${active.id} is already deploying; it can no longer be cancelled`,
        );
      await this.finishIn(trx, active.id, 'cancelled', 'cancelled by a person', {}, now);
      const [deployment] = await this.rows(trx, (q) => q.where('d.id', '=', active.id));
      return deployment;
    });
    countDeploymentsEnded(['cancelled']);
    return cancelled;
  }

  /** Records an approval or a rejection; a phase is decided once (a second decision answers the first). */
  async decide(
    releaseId: number,
    phase: string,
    decision: 'approved' | 'rejected',
    by: string,
    comment: string,
    now = new Date(),
    tenant = '',
  ): Promise<Approval> {
    await this.db
      .insertInto('approvals')
      .values({
        release_id: releaseId,
        phase,
        tenant,
        decision,
        decided_by: by,
        comment: clip(comment),
        decided_at: now,
      })
      .onConflict((oc) => oc.columns(['release_id', 'phase', 'tenant']).doNothing())
      .execute();
    const row = await this.db
      .selectFrom('approvals')
      .selectAll()
      .where('release_id', '=', releaseId)
      .where('phase', '=', phase)
      .where('tenant', '=', tenant)
      .executeTakeFirstOrThrow();
    return toApproval(row);
  }

  /** A release's deployments (newest first) and approvals. */
  async ofRelease(releaseId: number): Promise<{ deployments: Deployment[]; approvals: Approval[] }> {
    const deployments = await this.rows(this.db, (q) =>
      q.where('d.release_id', '=', releaseId).orderBy('d.id', 'desc'),
    );
    const approvals = await this.db
      .selectFrom('approvals')
      .selectAll()
      .where('release_id', '=', releaseId)
      .orderBy('decided_at')
      .execute();
    return {
      deployments,
      approvals: approvals.map(toApproval),
    };
  }

  /**
   * An environment's deployments, newest first: a page of `limit` older than the deployment `before`, and the
   * cursor of the next page (null on the last); with `tenant`, that tenant's only.
   */
  async history(
    projectId: number,
    environment: string,
    limit: number,
    before?: number,
    tenant?: string,
  ): Promise<{ deployments: Deployment[]; nextCursor: number | null }> {
    const rows = await this.rows(this.db, (q) => {
      let page = q.where('d.project_id', '=', projectId).where('d.environment', '=', environment);
      if (tenant !== undefined) page = page.where('d.tenant', '=', tenant);
      if (before !== undefined) page = page.where('d.id', '<', before);
      return page.orderBy('d.id', 'desc').limit(limit + 1);
    });
    const deployments = rows.slice(0, limit);
    return { deployments, nextCursor: rows.length > limit ? deployments[deployments.length - 1].id : null };
  }

  /**
   * Which release is deployed where (Octopus's dashboard): per environment, the current one and the queue of
   * the untenanted deployments, and for a tenanted project the same for each tenant connected to it.
   */
  async environments(projectId: number, spec: ProjectSpec) {
    // Each environment's lanes are read together (three queries, whatever the tenants): read a lane at a time,
    // 1,000 tenants in five environments were 15,000 queries per page view, each scanning the environment.
    const lanesOf = async (environment: string) => {
      const inEnvironment = (q: ReturnType<DeploymentStore['base']>) =>
        q.where('d.project_id', '=', projectId).where('d.environment', '=', environment);
      const [currents, inFlights, latests] = await Promise.all([
        this.db
          .selectFrom('deployments as d')
          .innerJoin('releases as r', 'r.id', 'd.release_id')
          .distinctOn('d.tenant')
          .select(['d.tenant', 'd.id', 'r.number', 'd.finished_at'])
          .where('d.project_id', '=', projectId)
          .where('d.environment', '=', environment)
          .where('d.status', '=', 'succeeded')
          .orderBy('d.tenant')
          .orderBy('d.finished_at', 'desc')
          .orderBy('d.id', 'desc')
          .execute(),
        this.rows(this.db, (q) =>
          inEnvironment(q)
            .where('d.status', 'in', [...ACTIVE_STATUSES])
            .orderBy('d.id'),
        ),
        this.rows(this.db, (q) =>
          inEnvironment(q).distinctOn('d.tenant').orderBy('d.tenant').orderBy('d.id', 'desc'),
        ),
      ]);
      const current = new Map(currents.map((c) => [c.tenant, c]));
      const latest = new Map(latests.map((d) => [d.tenant ?? '', d]));
      const inFlight = new Map<string, typeof inFlights>();
      for (const d of inFlights) {
        const queue = inFlight.get(d.tenant ?? '');
        if (queue) queue.push(d);
        else inFlight.set(d.tenant ?? '', [d]);
      }
      return (tenant: string) => {
        const c = current.get(tenant);
        return {
          current: c ? { release: c.number, deployment: c.id, deployedAt: iso(c.finished_at) } : null,
          inFlight: inFlight.get(tenant) ?? [],
          latest: latest.get(tenant) ?? null,
        };
      };
    };
    const tenanted = tenantedMode(spec) !== 'untenanted';
    return Promise.all(
      spec.environments.map(async (env) => {
        const tenants = tenanted
          ? (spec.tenants ?? []).filter((c) => c.environments.includes(env.name)).map((c) => c.tenant)
          : [];
        const lane = await lanesOf(env.name);
        return {
          name: env.name,
          targets: env.targets.map((t) => ({ name: t.name, type: t.type })),
          ...lane(''),
          ...(tenanted
            ? { tenants: [...tenants].sort().map((tenant) => ({ tenant, ...lane(tenant) })) }
            : {}),
        };
      }),
    );
  }
}

function toDeployment(row: Selectable<DeploymentsTable> & { release_number: string }): Deployment {
  return {
    id: row.id,
    release: row.release_number,
    environment: row.environment,
    ...(row.tenant ? { tenant: row.tenant } : {}),
    status: row.status,
    forced: row.forced,
    requestedBy: row.requested_by,
    queuedAt: row.queued_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    attempts: row.attempts,
    error: row.error,
    nextAttemptAt: iso(row.next_attempt_at),
    targets: row.targets,
    freezeOverride: row.freeze_override ?? null,
    deployAt: iso(row.deploy_at),
    deployAtExpiry: iso(row.deploy_at_expiry),
  };
}

function toApproval(row: Selectable<ApprovalsTable>): Approval {
  return {
    phase: row.phase,
    ...(row.tenant ? { tenant: row.tenant } : {}),
    decision: row.decision,
    by: row.decided_by,
    comment: row.comment,
    decidedAt: row.decided_at.toISOString(),
  };
}

/** A deployment the queue ended, for the release to hear of (with its tenant, when it has one). */
function ended(
  row: { number: string; environment: string; tenant: string },
  status: DeploymentStatus,
): EndedDeployment {
  return {
    number: row.number,
    environment: row.environment,
    ...(row.tenant ? { tenant: row.tenant } : {}),
    status,
  };
}

/** A lane in a sentence, unquoted: `prod`, or `prod for tenant acme`. */
function plainLane(environment: string, tenant: string): string {
  return tenant ? `${environment} for tenant ${tenant}` : environment;
}

/**
 * Why deployments to the lane can no longer go, or null: the environment was removed, or the tenant is no
 * longer connected to it.
 */
function laneGone(spec: ProjectSpec, environment: string, tenant: string): string | null {
  if (!spec.environments.some((e) => e.name === environment)) return 'the environment was removed';
  if (tenant === '') return null;
  const connection = (spec.tenants ?? []).find((c) => c.tenant === tenant);
  return connection?.environments.includes(environment) && tenantedMode(spec) !== 'untenanted'
    ? null
    : `tenant ${tenant} is no longer connected to environment "${environment}"`;
}
