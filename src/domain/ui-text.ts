import { LifecyclePlan, phaseStates, ReleaseProgress } from './lifecycle';
import type { ReleasedPackage, TriggerState } from './trigger';

/*
 * What the Temporal Web UI shows of each workflow without opening its history: a one-line static summary
 * set when it starts, and current details (Markdown) the workflow keeps up to date. Pure text, no
 * secrets: names, versions and times only. Plain code, loaded by workflows.
 */

const SUMMARY_MAX = 200;
const clipLine = (s: string) => (s.length <= SUMMARY_MAX ? s : `${s.slice(0, SUMMARY_MAX - 1)}…`);

export function triggerSummary(spec: {
  readonly project: string;
  readonly name: string;
  readonly channel: string;
  readonly watch?: readonly string[];
  readonly intervalSeconds: number;
}): string {
  const watched = spec.watch ? spec.watch.join(', ') : 'every package';
  return clipLine(
    `Trigger ${spec.project}/${spec.name}: channel ${spec.channel}, watching ${watched}, every ${spec.intervalSeconds} s`,
  );
}

/** The packages of a release as a Markdown table, for its static details. */
export function releaseStaticDetails(packages: readonly ReleasedPackage[]): string {
  return [
    '| package | image or chart | version | digest |',
    '|---|---|---|---|',
    ...packages.map((p) => `| ${p.name} | ${p.feed}/${p.package} | ${p.tag} | ${p.digest ?? '-'} |`),
  ].join('\n');
}

/** A trigger's current details: its state, last outcome, next poll and last release. */
export function triggerDetails(state: TriggerState, nextPollAt: string | null): string {
  const watched = Object.entries(state.packages)
    .filter(([name]) => state.spec.watch === undefined || state.spec.watch.includes(name))
    .map(([name, p]) => `${name} (${p.feed}/${p.package})${p.latest ? ` at ${p.latest.tag}` : ''}`);
  const lines = [
    `**${state.paused ? 'Paused' : state.lastPoll?.outcome === 'error' ? 'Failing' : 'Active'}**, channel ${state.spec.channel}, every ${state.spec.intervalSeconds} s`,
    `- watching: ${watched.length > 0 ? watched.join(', ') : 'not loaded yet'}`,
    `- last poll: ${state.lastPoll ? `${state.lastPoll.at}: ${state.lastPoll.outcome}: ${state.lastPoll.reason}` : 'none yet'}`,
    `- next poll: ${state.paused ? 'when resumed' : (nextPollAt ?? 'now')}`,
    `- last release: ${state.lastRelease ? `${state.lastRelease.number} at ${state.lastRelease.at}` : 'none'}`,
  ];
  if (state.lastError)
    lines.push(`- last error: ${state.lastError.code}: ${state.lastError.message.slice(0, 300)}`);
  return lines.join('\n');
}

/** A release's current details: its phase and each delivery's state. */
export function releaseDetails(
  phase: string,
  deliveries: Readonly<Record<string, string>>,
  lifecycle: string[] = [],
): string {
  const entries = Object.entries(deliveries);
  return [
    `**${phase}**`,
    ...(entries.length > 0 ? entries.map(([d, s]) => `- ${d}: ${s}`) : ['- no destinations']),
    ...lifecycle,
  ].join('\n');
}

/** The lifecycle's lines of a release's details: each phase's state and each environment's deployment. */
export function lifecycleDetails(plan: LifecyclePlan, progress: ReleaseProgress): string[] {
  const states = phaseStates(plan, progress);
  return [
    `**Lifecycle ${plan.name}**`,
    ...plan.phases.map((phase, i) => {
      const envs = phase.environments
        .map((env) => `${env} ${progress.deployments[env]?.status ?? 'not deployed'}`)
        .join(', ');
      return `- ${phase.name} (${states[i].state}, ${states[i].succeeded}/${states[i].needed}): ${envs}`;
    }),
  ];
}
