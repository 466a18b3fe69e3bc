import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/**
 * Loaded into a service process with `--require` by `bench:scale --cpu-profile FILE`: the first SIGUSR2
 * starts V8's sampling profiler on the process's main thread, the second stops it and writes the profile
 * (a `.cpuprofile` that Chrome DevTools opens) to FEED_TRIGGERS_CPU_PROFILE. So the profile covers the
 * bench's steady window only, not the start or the bulk create.
 */
const file = process.env.FEED_TRIGGERS_CPU_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  let running = false;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
    );
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 1000 }); // µs
        await post('Profiler.start');
      } else {
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        writeFileSync(file, JSON.stringify(profile));
        running = false;
      }
    })().catch((err: unknown) => process.stderr.write(`cpu profile: ${String(err)}\n`));
  });
}
