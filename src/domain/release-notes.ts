import {
  NotesRecord,
  NotesShape,
  NotesTemplate,
  NotesTemplateError,
  parseNotesTemplate,
  renderNotesTemplate,
} from './notes-template';
import type { ReleasedPackage } from './trigger';

/**
 * The variables a channel's release-notes template may use (docs/release-notes.md): the release, its
 * packages with the versions of the channel's previous release, and what made it. Pure.
 */

type RecordShape = NotesShape & { kind: 'record' };
const text: NotesShape = { kind: 'text' };
const record = (fields: Record<string, NotesShape>): RecordShape => ({
  kind: 'record',
  fields: new Map(Object.entries(fields)),
});

const PACKAGE_FIELDS = { Name: text, Feed: text, Package: text, Version: text, Digest: text };

/** Every variable, by the path a template writes. */
export const RELEASE_NOTES_VARIABLES: RecordShape = record({
  Project: record({ Name: text }),
  Release: record({
    Number: text,
    Channel: text,
    Created: text,
    Reason: text,
    Source: text,
    Trigger: text,
    Notification: text,
    Packages: {
      kind: 'list',
      item: record({ ...PACKAGE_FIELDS, PreviousVersion: text, Changed: text }),
    },
    Previous: record({
      Number: text,
      Packages: { kind: 'list', item: record(PACKAGE_FIELDS) },
    }),
  }),
});

/** What a release's notes are rendered from, all of it known when the release is recorded. */
export interface ReleaseNotesFacts {
  readonly project: string;
  readonly number: string;
  readonly channel: string;
  readonly createdAt: string;
  readonly reason: string;
  readonly source: { readonly kind: 'trigger'; readonly trigger: string } | { readonly kind: 'manual' };
  /** The registry notifications that prompted the trigger's evaluation; absent for a scheduled poll. */
  readonly notification?: string;
  readonly packages: readonly ReleasedPackage[];
  /** The channel's previous release, or null for its first. */
  readonly previous: { readonly number: string; readonly packages: readonly ReleasedPackage[] } | null;
}

/** Parses and checks a channel's template; throws NotesTemplateError with the line and column. */
export function checkReleaseNotesTemplate(template: string): NotesTemplate {
  return parseNotesTemplate(template, RELEASE_NOTES_VARIABLES);
}

function packageRecord(p: ReleasedPackage): Map<string, string> {
  return new Map([
    ['Name', p.name],
    ['Feed', p.feed],
    ['Package', p.package],
    ['Version', p.tag],
    ['Digest', p.digest ?? ''],
  ]);
}

/** The values of RELEASE_NOTES_VARIABLES for one release. */
export function releaseNotesValues(facts: ReleaseNotesFacts): NotesRecord {
  const before = new Map((facts.previous?.packages ?? []).map((p) => [p.name, p]));
  const packages = facts.packages.map((p) => {
    const previous = before.get(p.name);
    const values = packageRecord(p);
    values.set('PreviousVersion', previous?.tag ?? '');
    values.set('Changed', String(previous === undefined || previous.tag !== p.tag));
    return values;
  });
  return new Map<string, NotesRecord>([
    ['Project', new Map([['Name', facts.project]])],
    [
      'Release',
      new Map<string, string | NotesRecord | readonly NotesRecord[]>([
        ['Number', facts.number],
        ['Channel', facts.channel],
        ['Created', facts.createdAt],
        ['Reason', facts.reason],
        ['Source', facts.source.kind],
        // The source holds the trigger's key (trigger/<project>/<name>); its name is what a reader knows.
        ['Trigger', facts.source.kind === 'trigger' ? facts.source.trigger.split('/').pop()! : ''],
        ['Notification', facts.notification ?? ''],
        ['Packages', packages],
        [
          'Previous',
          new Map<string, string | readonly NotesRecord[]>([
            ['Number', facts.previous?.number ?? ''],
            ['Packages', (facts.previous?.packages ?? []).map(packageRecord)],
          ]),
        ],
      ]),
    ],
  ]);
}

/**
 * A release's notes from its channel's template. A template that no longer parses (it was checked when
 * the channel was saved, so only a newer version's template could) gives notes that say so: the release
 * is recorded either way.
 */
export function renderReleaseNotes(template: string, facts: ReleaseNotesFacts): string {
  let parsed: NotesTemplate;
  try {
    parsed = checkReleaseNotesTemplate(template);
  } catch (err) {
    if (!(err instanceof NotesTemplateError)) throw err;
    return `(the channel's release-notes template could not be used: ${err.message})`;
  }
  return renderNotesTemplate(parsed, releaseNotesValues(facts));
}
