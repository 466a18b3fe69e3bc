import {
  NotifiedService,
  pushOneByOne,
  startNotifiedService,
  summary,
  watchedHourly,
} from '../support/notified-pushes';

/**
 * `npm run bench:notify` (kept out of `npm test`: two minutes or so). 100 single pushes one after the other
 * to a real registry 2.8 whose notifier calls the service, each awaited before the next, through
 * `/hooks/<token>` and through `/webhooks/registry`; the triggers poll hourly, so a push the notification
 * does not release in time is lost. Prints pushes released of 100 and the push-to-release time.
 */
const PUSHES = Number(process.env.NOTIFIED_PUSHES ?? 100);
let service: NotifiedService;

beforeAll(async () => {
  service = await startNotifiedService();
});
afterAll(async () => {
  await service?.stop();
});

test.each([
  ['/hooks/<token>', 'local', () => service.hooked],
  ['/webhooks/registry', 'legacy', () => service.legacy],
])(
  `${PUSHES} single pushes through %s: every one released`,
  async (path, feed, of) => {
    const project = `bench-${feed}`;
    await watchedHourly(service, project, feed, of(), 'bench/pushes');
    const started = Date.now();
    const run = await pushOneByOne(service.env, {
      registryUrl: of().url,
      repository: 'bench/pushes',
      project,
      prefix: '3.0',
      count: PUSHES,
      boundMs: 60_000,
    });
    const { p50, max } = summary(run.latencies);
    process.stdout.write(
      `bench:notify ${path}: ${run.released} of ${PUSHES} pushes released; push to release p50 ${p50} ms, ` +
        `max ${max} ms; ${((Date.now() - started) / 1000).toFixed(1)} s in all` +
        `${run.lost.length > 0 ? `; lost ${run.lost.join(', ')}` : ''}\n`,
    );
    expect(run.lost).toEqual([]);
  },
  900_000,
);
