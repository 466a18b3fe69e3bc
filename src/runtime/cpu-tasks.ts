import { parentPort, workerData } from 'node:worker_threads';
import { compileRule, evaluateRule, toPreview, VersionRuleInput } from '../domain/rule';
import type { Precedence } from '../domain/version';
import { HelmIndexFeed, parseHelmIndex, ParsedHelmIndex } from '../feeds/helm-index';
import { DeployFileEdit, editDeployFile } from '../targets/git/deploy-file';

/**
 * What the CPU pool's threads run (src/runtime/cpu-pool.ts): pure functions of plain data (inputs and outputs cross
 * threads by structured clone). This file is also each thread's entry point.
 */
export const CPU_TASKS = {
  /** A rule's preview over a tag list, as the JSON text the API sends (one string crosses back, not 100k objects). */
  rulePreview(input: { rule: VersionRuleInput; precedence: Precedence; tags: readonly string[] }): string {
    return JSON.stringify(toPreview(evaluateRule(compileRule(input.rule, input.precedence), input.tags)));
  },
  /** A Helm repository's index, parsed (see helm-index.ts). */
  helmIndex(input: { body: Uint8Array; feed: HelmIndexFeed }): ParsedHelmIndex {
    return parseHelmIndex(input.body, input.feed);
  },
  /** A deploy file's text with the release's version written in (see deploy-file.ts). */
  deployFileEdit(input: { text: string; file: DeployFileEdit }): string {
    return editDeployFile(input.text, input.file);
  },
};

/** The workerData of a pool thread (cpu-tasks.ts answers only in such threads). */
export const CPU_POOL_THREAD = 'feed-triggers-cpu-pool';

/** The message a thread answers with. */
export type CpuTaskReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly name: string; readonly code?: string; readonly message: string };

type Tasks = typeof CPU_TASKS;
export type CpuTaskName = keyof Tasks;
export type CpuTaskInput<K extends CpuTaskName> = Parameters<Tasks[K]>[0];
export type CpuTaskOutput<K extends CpuTaskName> = ReturnType<Tasks[K]>;

// Only a thread the pool started answers (any other thread that loads this file stays silent).
if (workerData === CPU_POOL_THREAD && parentPort) {
  const port = parentPort;
  port.on('message', ({ task, input }: { task: CpuTaskName; input: never }) => {
    let reply: CpuTaskReply;
    try {
      reply = { ok: true, value: (CPU_TASKS[task] as (i: never) => unknown)(input) };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const code = (e as { code?: unknown }).code;
      reply = {
        ok: false,
        name: e.name,
        code: typeof code === 'string' ? code : undefined,
        message: e.message,
      };
    }
    port.postMessage(reply);
  });
  port.postMessage('ready');
}
