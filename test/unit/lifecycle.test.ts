import { deployOrder } from '../../activities/lifecycle';
import {
  DEFAULT_DEPLOY_BACKOFF,
  deployRetryDelayMs,
  LifecyclePlan,
  lifecycleStranded,
  ReleaseProgress,
} from '../../src/domain/lifecycle';

const plan: LifecyclePlan = {
  name: 'standard',
  phases: [
    { name: 'dev', environments: ['dev'], automatic: true, minimum: 1, approval: false },
    { name: 'test', environments: ['test-a', 'test-b'], automatic: true, minimum: 1, approval: false },
    { name: 'prod', environments: ['prod'], automatic: false, minimum: 1, approval: true },
  ],
};

const progress = (
  deployments: Record<string, ReleaseProgress['deployments'][string]['status']>,
  taken: string[] = [],
): ReleaseProgress => ({
  deployments: Object.fromEntries(
    Object.entries(deployments).map(([env, status], id) => [env, { id, status }]),
  ),
  approvals: {},
  taken,
});

describe('a release stranded by a newer one', () => {
  test('ends when a newer release holds the environment it was superseded in', () => {
    expect(lifecycleStranded(plan, progress({ dev: 'superseded' }, ['dev']))).toBe(true);
  });

  test('keeps waiting while anything of it is in flight, or the phase can still complete', () => {
    expect(lifecycleStranded(plan, progress({ dev: 'retrying' }, ['dev']))).toBe(false);
    expect(lifecycleStranded(plan, progress({ dev: 'failed' }))).toBe(false);
    expect(lifecycleStranded(plan, progress({ dev: 'succeeded', 'test-a': 'superseded' }, ['test-a']))).toBe(
      true,
    );
    // A newer release in only one of two environments of a phase needing both: this one may still pass it.
    const both = { ...plan, phases: [plan.phases[0], { ...plan.phases[1], minimum: 2 }, plan.phases[2]] };
    expect(lifecycleStranded(both, progress({ dev: 'succeeded', 'test-a': 'superseded' }, ['test-a']))).toBe(
      false,
    );
  });

  test('ends when a newer release is past the phase waiting for an approval', () => {
    const tested = { dev: 'succeeded', 'test-a': 'succeeded', 'test-b': 'succeeded' } as const;
    expect(lifecycleStranded(plan, progress(tested, ['dev', 'test-a', 'prod']))).toBe(true);
    expect(lifecycleStranded(plan, progress(tested, ['dev', 'test-a']))).toBe(false);
  });

  test('a finished lifecycle is settled, not stranded', () => {
    const done = { dev: 'succeeded', 'test-a': 'succeeded', prod: 'succeeded' } as const;
    const approved = {
      ...progress(done, ['dev', 'prod']),
      approvals: { prod: { decision: 'approved', by: 'a', comment: '' } },
    } as ReleaseProgress;
    expect(lifecycleStranded(plan, approved)).toBe(false);
  });
});

test('deployment retries wait 1 s, 2 s, 4 s … and never more than 15 s', () => {
  expect([1, 2, 3, 4, 5, 6, 100].map((n) => deployRetryDelayMs(DEFAULT_DEPLOY_BACKOFF, n))).toEqual([
    1000, 2000, 4000, 8000, 15_000, 15_000, 15_000,
  ]);
});

test('Git targets deploy last, the others in their configured order', () => {
  const targets = [
    { name: 'repo', type: 'git' },
    { name: 'hook', type: 'webhook' },
    { name: 'octo', type: 'octopus' },
    { name: 'repo2', type: 'git' },
  ];
  expect(deployOrder(targets).map((t) => t.name)).toEqual(['hook', 'octo', 'repo', 'repo2']);
});
