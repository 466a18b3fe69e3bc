import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ENVIRONMENT, loadConfig } from '../../src/config';
import { runCliCapturing } from '../support/cli';

const DEV_SERVER_ONLY = [
  'TEMPORAL_PORT',
  'TEMPORAL_HTTP_PORT',
  'TEMPORAL_UI_PORT',
  'TEMPORAL_METRICS_PORT',
  'TEMPORAL_CLI_PATH',
];

describe('serve, worker and api --help', () => {
  test.each(['serve', 'worker', 'api'])(
    '%s --help lists every environment variable the role reads',
    async (role) => {
      const { code, stdout } = await runCliCapturing([role, '--help'], {});
      expect(code).toBe(0);
      const listed = [...stdout.matchAll(/^ {2}([A-Z_]+) {2}/gm)].map((m) => m[1]);
      const expected = Object.keys(ENVIRONMENT).filter(
        (name) =>
          (role === 'serve' || !DEV_SERVER_ONLY.includes(name)) &&
          (role !== 'api' || !ENVIRONMENT[name as keyof typeof ENVIRONMENT].worker),
      );
      expect(listed).toEqual(expected);
      for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'FEED_TRIGGERS_API_PORT', 'LOG_LEVEL'])
        expect(listed).toContain(name);
    },
  );

  test('docs/configuration.md documents every variable the roles read, and FEED_TRIGGERS_API_URL', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');
    for (const name of [...Object.keys(ENVIRONMENT), 'FEED_TRIGGERS_API_URL', 'FEED_TRIGGERS_TOKEN'])
      expect([name, doc.includes(`\`${name}\``)]).toEqual([name, true]);
  });
});

describe("the embedded dev server's ports", () => {
  test('follow TEMPORAL_PORT when not set, so a second instance moves one variable', () => {
    expect(loadConfig({ TEMPORAL_PORT: '7300' }).temporal).toMatchObject({
      devServerPort: 7300,
      httpPort: 7310,
      uiPort: 8300,
      metricsPort: 8301,
    });
    expect(loadConfig({}).temporal).toMatchObject({ devServerPort: 7233, uiPort: 8233, metricsPort: 8234 });
  });

  test('two of them on one port is refused, naming both variables', () => {
    expect(() => loadConfig({ TEMPORAL_UI_PORT: '7233' })).toThrow(ConfigError);
    expect(() => loadConfig({ TEMPORAL_UI_PORT: '7233' })).toThrow(/TEMPORAL_UI_PORT.*TEMPORAL_PORT/);
  });

  test("the API on one of the dev server's ports is refused before anything starts", () => {
    // Checked late, the dev server would start first and the API then find its port "in use by another
    // process" (our own).
    for (const port of ['7233', '7243', '8233', '8234'])
      expect(() => loadConfig({ FEED_TRIGGERS_API_PORT: port })).toThrow(
        new RegExp(`FEED_TRIGGERS_API_PORT: ${port} is also TEMPORAL_`),
      );
    expect(() => loadConfig({ FEED_TRIGGERS_API_PORT: '7233', FEED_TRIGGERS_API_HOST: '0.0.0.0' })).toThrow(
      ConfigError,
    );
    // Another address, or a Temporal server elsewhere: no clash.
    expect(loadConfig({ FEED_TRIGGERS_API_PORT: '7233', FEED_TRIGGERS_API_HOST: '10.1.2.3' }).api.port).toBe(
      7233,
    );
    expect(loadConfig({ FEED_TRIGGERS_API_PORT: '7233', TEMPORAL_ADDRESS: 't:7233' }).api.port).toBe(7233);
  });
});
