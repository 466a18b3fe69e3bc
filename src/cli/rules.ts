import { compileRule, evaluateRule, RulesPreview, toPreview, VersionRuleInput } from '../domain/rule';
import { VersionRuleSchema } from '../domain/rule-schema';
import { Precedence, PRECEDENCES } from '../domain/version';
import { printable } from './printable';
import { parseCommandLine, UsageError } from './usage';

export const RULES_USAGE =
  'usage: feed-triggers rules [--range R] [--tag REGEX] [--order semver|numerical|alphabetical] ' +
  '[--filter REGEX] [--extract TEMPLATE] [--exclude REGEX]... [--no-default-excludes] ' +
  '[--precedence docker|semver] [--json] < tags';

/** Builds the rule from the command line; bad options become a one-line UsageError. */
export function ruleFromArgs(args: string[]): {
  rule: VersionRuleInput;
  json: boolean;
  precedence: Precedence;
} {
  const { values } = parseCommandLine(
    {
      args,
      allowPositionals: false,
      options: {
        range: { type: 'string' },
        tag: { type: 'string' },
        order: { type: 'string' },
        filter: { type: 'string' },
        extract: { type: 'string' },
        exclude: { type: 'string', multiple: true },
        'no-default-excludes': { type: 'boolean' },
        precedence: { type: 'string' },
        json: { type: 'boolean' },
      },
    },
    RULES_USAGE,
  );
  const rule = {
    range: values.range,
    tag: values.tag,
    order: values.order,
    filter: values.filter,
    extract: values.extract,
    exclude: values.exclude ?? [],
    defaultExcludes: !values['no-default-excludes'],
  };
  const parsed = VersionRuleSchema.safeParse(rule);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const option = issue.path.length > 0 ? `--${String(issue.path[0])}` : 'options';
    throw new UsageError(`${option}: ${issue.message}`);
  }
  const precedence = values.precedence ?? 'docker';
  if (!PRECEDENCES.includes(precedence as Precedence))
    throw new UsageError(`--precedence: expected ${PRECEDENCES.join(' or ')}, not "${precedence}"`);
  return { rule: parsed.data, json: values.json ?? false, precedence: precedence as Precedence };
}

/** Tags from text, one a line; line endings stripped, blank lines ignored, nothing else changed. */
export function tagsFromText(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '');
}

/** A table for people: each tag with what the rule made of it, selected first. */
export function formatPreviewTable(preview: RulesPreview): string {
  // Tags come from a registry's list (piped in): shown as text, so one holding ESC cannot drive the terminal.
  const rows: [string, string][] = [
    ...preview.accepted.map((tag): [string, string] => [
      printable(tag),
      tag === preview.selected ? 'selected' : 'accepted',
    ]),
    ...preview.rejected.map((r): [string, string] => [printable(r.tag), `rejected: ${printable(r.reason)}`]),
  ];
  const width = Math.min(Math.max(3, ...rows.map(([tag]) => tag.length)), 64);
  const lines = [
    `${'TAG'.padEnd(width)}  RESULT`,
    ...rows.map(([tag, result]) => `${tag.padEnd(width)}  ${result}`),
  ];
  lines.push(
    '',
    preview.selected === null ? 'No tag passes the rule.' : `Selected: ${printable(preview.selected)}`,
  );
  return lines.join('\n') + '\n';
}

/** `feed-triggers rules`: reads tags from stdin and prints the rule's preview. */
export async function runRules(
  args: string[],
  stdin: NodeJS.ReadableStream,
  stdout: NodeJS.WritableStream,
): Promise<void> {
  const { rule, json, precedence } = ruleFromArgs(args);
  const compiled = compileRule(rule, precedence);
  let text = '';
  stdin.setEncoding('utf8');
  for await (const chunk of stdin) text += chunk as string;
  const preview = toPreview(evaluateRule(compiled, tagsFromText(text)));
  stdout.write(json ? `${JSON.stringify(preview)}\n` : formatPreviewTable(preview));
}
