import { PassThrough } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createLogger, TemporalLogger } from '../../src/observability/log';

function capture(pretty: boolean, level: 'trace' | 'info' = 'trace') {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const logger = createLogger({ level, pretty, destination: out });
  return { logger, text: () => text };
}

describe('the service logger', () => {
  test('writes one JSON object a line with level, ISO time, component and message; credentials redacted', () => {
    const { logger, text } = capture(false);
    logger
      .child({ component: 'api' })
      .warn(
        { headers: { authorization: 'Bearer ft_x' }, password: 'p4ss', token: 't0k', route: '/x' },
        'hello',
      );
    const line = JSON.parse(text().trim());
    expect(line).toEqual({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      component: 'api',
      headers: { authorization: '[redacted]' },
      password: '[redacted]',
      token: '[redacted]',
      route: '/x',
      msg: 'hello',
    });
  });

  test("an activity's failure keeps its message: the host and the cause of a NETWORK error are in the log", () => {
    const { logger, text } = capture(false, 'info');
    const message =
      'https://dockerhub.io could not be reached: ENOTFOUND dockerhub.io (the name does not resolve)';
    new TemporalLogger(logger).warn('Activity failed', {
      error: ApplicationFailure.create({ type: 'NETWORK', message }),
      activityType: 'pollPackage',
      workflowId: 'trigger/shop/web',
    });
    expect(JSON.parse(text().trim())).toMatchObject({
      level: 'warn',
      msg: 'Activity failed',
      trigger: 'web',
      error: { name: 'ApplicationFailure', type: 'NETWORK', nonRetryable: false, message },
    });
  });

  test('on a terminal: short readable lines', () => {
    const { logger, text } = capture(true);
    logger.child({ component: 'service' }).info({ role: 'serve', port: 8080 }, 'started');
    expect(text()).toMatch(/^\d\d:\d\d:\d\d INFO {2}\[service\] started role=serve port=8080\n$/);
  });

  test("the SDK's lines: workflow context renamed to ours, routine lines at debug, webpack's report at trace", () => {
    const { logger, text } = capture(false, 'info');
    const sdk = new TemporalLogger(logger);
    sdk.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
    sdk.info('asset workflow-bundle.js 1.2 MiB [emitted]\nwebpack compiled successfully', {
      sdkComponent: 'worker',
    });
    sdk.warn('activity failed', {
      sdkComponent: 'activity',
      workflowId: 'trigger/shop/web',
      workflowRunId: 'run-1',
      taskQueue: 'q',
      activityType: 'pollPackage',
    });
    const lines = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        level: 'warn',
        time: expect.any(String),
        component: 'temporal.activity',
        project: 'shop',
        trigger: 'web',
        workflowId: 'trigger/shop/web',
        runId: 'run-1',
        taskQueue: 'q',
        activityType: 'pollPackage',
        msg: 'activity failed',
      },
    ]);
    const verbose = capture(false, 'trace');
    new TemporalLogger(verbose.logger).info('asset x.js\nwebpack compiled', {});
    expect(JSON.parse(verbose.text()).level).toBe('trace');
    // A failed build stays an error.
    const failing = capture(false, 'info');
    new TemporalLogger(failing.logger).error('asset x.js\nwebpack compiled with 1 error', {});
    expect(JSON.parse(failing.text()).level).toBe('error');
  });

  test("the SDK core's repeated lines: the first in full, the rest as one count a window; other lines untouched", async () => {
    const { logger, text } = capture(false, 'info');
    const sdk = new TemporalLogger(logger, 200);
    const lines = () =>
      text()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    for (let i = 0; i < 500; i++)
      sdk.warn('Task not found when completing', { sdkComponent: 'core', run_id: `run-${i}` });
    // Said once per slow task, with its run id and numbers: one kind.
    const slow = (run: string, event: number, ms: number) =>
      sdk.warn(`[TMPRL1104] ${run}:${event}:1 Workflow task duration exceeded ${ms} seconds.`, {
        sdkComponent: 'core',
        workflowTaskDuration: ms,
      });
    slow('01a227cb-1681-778a-9fc5-25f116764ece', 36, 5);
    slow('01a227cb-1650-778a-ba6e-8ec2221cb948', 30, 6);
    slow('01a227cb-1667-70b1-bc99-b5f8e3e4e22b', 36, 5);
    for (let i = 0; i < 3; i++)
      sdk.warn('Activity failed', { sdkComponent: 'activity', workflowId: `trigger/p/t${i}` });
    expect(lines().map((l) => [l.msg, l.run_id ?? l.trigger])).toEqual([
      ['Task not found when completing', 'run-0'],
      [
        '[TMPRL1104] 01a227cb-1681-778a-9fc5-25f116764ece:36:1 Workflow task duration exceeded 5 seconds.',
        undefined,
      ],
      ['Activity failed', 't0'],
      ['Activity failed', 't1'],
      ['Activity failed', 't2'],
    ]);
    // When the window ends: one line for each message held back, with its count.
    await new Promise((r) => setTimeout(r, 350));
    expect(lines().slice(5)).toEqual([
      expect.objectContaining({
        level: 'warn',
        component: 'temporal.core',
        repeated: 499,
        msg: 'Task not found when completing (499 more like it in the last 0.2 s)',
      }),
      expect.objectContaining({
        repeated: 2,
        msg: '[TMPRL1104] <run> Workflow task duration exceeded N seconds. (2 more like it in the last 0.2 s)',
      }),
    ]);
    // A long line is one kind by its start, and the window holds its start only.
    const head = `Error while completing workflow activation: ${'x'.repeat(300)}`;
    sdk.error(`${head}${'a'.repeat(100_000)}`, { sdkComponent: 'core' });
    sdk.error(`${head}${'b'.repeat(100_000)}`, { sdkComponent: 'core' });
    sdk.flushRepeats();
    const [fullLong, countLong] = lines().slice(7);
    expect(fullLong.msg.length).toBe(head.length + 100_000); // said in full the first time
    expect(countLong).toMatchObject({ level: 'error', repeated: 1 });
    expect(countLong.msg.length).toBe(200 + ' (1 more like it in the last 0.2 s)'.length);
    // A new window says the message in full again; a stop sums up what it held back.
    sdk.warn('Task not found when completing', { sdkComponent: 'core', run_id: 'run-again' });
    sdk.warn('Task not found when completing', { sdkComponent: 'core', run_id: 'run-held' });
    sdk.flushRepeats();
    expect(
      lines()
        .slice(9)
        .map((l) => [l.msg, l.run_id ?? l.repeated]),
    ).toEqual([
      ['Task not found when completing', 'run-again'],
      ['Task not found when completing (1 more like it in the last 0.2 s)', 1],
    ]);
  });
});
