import type { Client } from '@temporalio/client';
import { TemporalHealth } from '../../src/api/temporal-health';

/** The probe's one call answered from a script of gRPC codes: 5 NOT_FOUND (a working server), 4 late, 14 refused. */
function scripted(codes: number[]): Client {
  const answer = async () => {
    const code = codes.shift() ?? 5;
    throw Object.assign(new Error(`grpc ${code}`), { code });
  };
  return {
    options: { namespace: 'default' },
    withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
    workflowService: { describeWorkflowExecution: answer },
  } as unknown as Client;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TemporalHealth', () => {
  test('one late probe on a loaded machine keeps Temporal up and waiting requests waiting', async () => {
    const health = new TemporalHealth(scripted([4, 5, 5])).start();
    let failed = false;
    health.whenDown(() => (failed = true));
    await tick(50);
    expect([health.status.up, failed]).toEqual([true, false]);
    await tick(1100);
    expect([health.status, failed]).toEqual([{ up: true, error: null }, false]);
    health.stop();
  });

  test('two late probes in a row count as down and release the waiting requests with a 503', async () => {
    const health = new TemporalHealth(scripted([4, 4, 4])).start();
    let failed: number | null = null;
    health.whenDown((problem) => (failed = problem.status));
    await tick(1100);
    expect([health.status.up, failed]).toEqual([false, 503]);
    health.stop();
  });

  test('a refused probe counts as down at once', async () => {
    const health = new TemporalHealth(scripted([14, 14])).start();
    await tick(50);
    expect(health.status).toEqual({ up: false, error: 'grpc 14' });
    health.stop();
  });
});
