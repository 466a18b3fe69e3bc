/**
 * What a short command (`git --version`) costs the process that asks for it, run directly (Node forks this
 * process) or through the command helper (src/runtime/exec-helper.ts), while this process holds `--hold` MB
 * (a busy worker holds 0.7-1.6 GB). Prints the CPU this process spends per command and the median wall time,
 * for each hold in the list: `npm run bench:exec -- --hold 50,500,1000 --commands 200`.
 */
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { execCommand } from '../src/runtime/exec-helper';

const { values } = parseArgs({
  options: {
    hold: { type: 'string', default: '50,500,1000' },
    commands: { type: 'string', default: '200' },
  },
});
const holds = values.hold.split(',').map(Number);
const commands = Number(values.commands);
const options = { cwd: '/', env: { PATH: process.env.PATH }, timeoutMs: 30_000, maxBuffer: 1024 * 1024 };

const direct = () =>
  new Promise<void>((resolve, reject) =>
    execFile('git', ['--version'], { env: options.env }, (err) => (err ? reject(err) : resolve())),
  );
const helped = async () => void (await execCommand('git', ['--version'], options));

async function measure(run: () => Promise<void>): Promise<{ cpuMs: number; wallMs: number }> {
  await run(); // the helper's start is not what is measured
  const walls: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < commands; i++) {
    const t = performance.now();
    await run();
    walls.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  walls.sort((a, b) => a - b);
  return { cpuMs: (used.user + used.system) / 1000 / commands, wallMs: walls[Math.floor(walls.length / 2)] };
}

async function main(): Promise<void> {
  const held: Buffer[] = [];
  console.log(
    '| held by this process | direct: CPU here per command | median wall | helper: CPU here per command | median wall |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const mb of holds) {
    // Touched pages, as a worker's heap and caches are.
    while (held.length < mb) held.push(Buffer.alloc(1024 * 1024, 1));
    const a = await measure(direct);
    const b = await measure(helped);
    const rss = Math.round(process.memoryUsage().rss / 1e6);
    console.log(
      `| ${rss} MB RSS | ${a.cpuMs.toFixed(2)} ms | ${a.wallMs.toFixed(1)} ms | ${b.cpuMs.toFixed(2)} ms | ${b.wallMs.toFixed(1)} ms |`,
    );
  }
}

void main();
