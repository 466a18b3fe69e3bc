import { PassThrough } from 'node:stream';
import { createLogger, TemporalLogger } from '../../src/log';

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
});
