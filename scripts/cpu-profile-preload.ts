import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/**
 * Loaded into a service process with `--require` by `bench:scale --cpu-profile DIR`: the bench's message
 * 'cpu-profile:start' (over the IPC channel it spawned the process with) starts V8's sampling profiler on
 * the process's main thread, 'cpu-profile:stop' stops it and writes the profile (a `.cpuprofile` that
 * Chrome DevTools opens) to FEED_TRIGGERS_CPU_PROFILE. So the profile covers the bench's steady window only,
 * not the start or the bulk create. (Not a signal: the Temporal SDK's runtime shuts the worker down on
 * SIGUSR2, and Node opens its inspector on SIGUSR1.)
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
  process.on('message', (message) => {
    if (message !== 'cpu-profile:start' && message !== 'cpu-profile:stop') return;
    void (async () => {
      if (message === 'cpu-profile:start' && !running) {
        running = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 1000 }); // µs
        await post('Profiler.start');
      } else if (message === 'cpu-profile:stop' && running) {
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        writeFileSync(file, JSON.stringify(profile));
        running = false;
      }
    })().catch((err: unknown) => process.stderr.write(`cpu profile: ${String(err)}\n`));
  });
  // The channel must not keep the service alive, nor change how it stops (a 'message' listener refs it).
  process.channel?.unref();
}
