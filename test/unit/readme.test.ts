import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ManifestSchema } from '../../src/cli/apply';
import { renderReleaseNotes } from '../../src/domain/release-notes';

const ROOT = path.resolve(__dirname, '../..');
/** The README and every page of docs/, where the declarative examples live. */
const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)]
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => readFileSync(path.join(ROOT, f), 'utf8'))
  .join('\n');
/** Every declarative file in the documentation, by its first project's name. */
const manifests = new Map(
  [...docs.matchAll(/```yaml\n(projects:[\s\S]*?)```/g)].map((m) => {
    const parsed = ManifestSchema.safeParse(parseYaml(m[1]));
    return [parsed.success ? parsed.data.projects[0].spec.name : m[1].slice(0, 60), parsed] as const;
  }),
);

/** The documentation's declarative examples must stay files `apply` accepts. */
test('the documented example files are valid manifests', () => {
  expect([...manifests.keys()].sort()).toEqual(['noted', 'promote', 'retained', 'shop']);
  for (const parsed of manifests.values()) expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  const shop = manifests.get('shop')!.data!.projects[0];
  expect(shop.spec.channels.map((c) => c.name)).toEqual(['stable', 'nightly']);
  expect(shop.triggers.map((t) => [t.name, t.channel, t.intervalSeconds])).toEqual([
    ['web-stable', 'stable', 60],
    ['web-nightly', 'nightly', 300],
  ]);
});

test('the release-notes example renders the notes the page shows', () => {
  const channel = manifests.get('noted')!.data!.projects[0].spec.channels[0];
  const pkg = (name: string, tag: string) => ({ name, feed: 'ghcr.io', package: name, tag, digest: null });
  const notes = renderReleaseNotes(channel.releaseNotes!, {
    project: 'noted',
    number: '0.0.7',
    channel: 'stable',
    createdAt: '2026-12-06T12:00:00.000Z',
    reason: 'web 1.4.0 is later than 1.3.2',
    source: { kind: 'trigger', trigger: 'trigger/noted/web' },
    packages: [pkg('web', '1.4.0'), pkg('db', '1.1.0')],
    previous: { number: '0.0.6', packages: [pkg('web', '1.3.2'), pkg('db', '1.1.0')] },
  });
  const shown = /A push of `acme\/web:1.4.0` then records, for example:\n\n```text\n([\s\S]*?)```/.exec(
    docs,
  )![1];
  expect(notes).toBe(shown);
});

test('the lifecycle example has three environments, two automatic phases and a manual one', () => {
  const demo = manifests.get('promote')!.data!.projects[0].spec;
  expect(demo.environments.map((e) => [e.name, e.targets.map((t) => t.type)])).toEqual([
    ['dev', ['git']],
    ['test', ['git']],
    ['prod', ['git']],
  ]);
  expect(demo.lifecycles[0].phases.map((p) => [p.name, p.automatic, p.approval])).toEqual([
    ['dev', true, false],
    ['test', true, false],
    ['prod', false, false],
  ]);
  expect(demo.lifecycle).toBe('standard');
});

test('the documented freezes are valid, one-off and recurring', () => {
  const files = [...docs.matchAll(/```yaml\n(freezes:[\s\S]*?)```/g)].map((m) =>
    ManifestSchema.safeParse(parseYaml(m[1])),
  );
  expect(files).toHaveLength(1);
  expect(files[0].success ? [] : files[0].error.issues).toEqual([]);
  expect(files[0].data!.freezes.map((f) => [f.name, f.recurring?.every ?? 'once'])).toEqual([
    ['holidays', 'once'],
    ['weekends', 'weekly'],
  ]);
});

test('the retention example keeps 50 releases per channel, and the nightly channel its own', () => {
  const spec = manifests.get('retained')!.data!.projects[0].spec;
  expect(spec.retention).toEqual({ keepLast: 50 });
  expect(spec.channels.map((c) => [c.name, c.retention ?? null])).toEqual([
    ['stable', null],
    ['nightly', { keepLast: 10, keepDays: 7 }],
  ]);
});
