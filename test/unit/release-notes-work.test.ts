import { MAX_NOTES_STEPS, MAX_NOTES_TEMPLATE_LENGTH } from '../../src/domain/notes-template';
import { ReleaseNotesFacts, renderReleaseNotes } from '../../src/domain/release-notes';

const pkg = (name: string) => ({
  name,
  feed: 'docker.io',
  package: `library/${name}`,
  tag: '1.0.0',
  digest: `sha256:${name}`,
});
const facts: ReleaseNotesFacts = {
  project: 'shop',
  number: '1.0.0',
  channel: 'default',
  createdAt: '2026-12-06T10:00:00.000Z',
  reason: 'pushed',
  source: { kind: 'manual' },
  packages: Array.from({ length: 50 }, (_, i) => pkg(`p${i}`)),
  previous: null,
};

describe('release-notes work that writes nothing is bounded too', () => {
  test('conditions that write nothing inside nested loops count as work and are cut', () => {
    // 2,500 loop turns each testing 300 conditions: 750,000 conditions, none writing a character. Counted
    // only by loop turns, nested loops 7 deep in a full 8 KB template tested millions in one render (16 s
    // of one worker's event loop, inside the transaction that records the release).
    const template =
      '#{each a in Release.Packages}#{each b in Release.Packages}' +
      '#{if a.Name}#{/if}'.repeat(300) +
      '#{/each}#{/each}';
    expect(template.length).toBeLessThanOrEqual(MAX_NOTES_TEMPLATE_LENGTH);
    expect(renderReleaseNotes(template, facts)).toBe(
      `\n… (cut: the template repeated more than ${MAX_NOTES_STEPS} times)`,
    );
  });

  test('loops over an empty list inside nested loops count as work and are cut', () => {
    // A first release has no previous packages: each of these loops turns no time, yet each is looked up.
    const template =
      '#{each a in Release.Packages}#{each b in Release.Packages}' +
      '#{each c in Release.Previous.Packages}#{/each}'.repeat(150) +
      '#{/each}#{/each}';
    expect(template.length).toBeLessThanOrEqual(MAX_NOTES_TEMPLATE_LENGTH);
    expect(renderReleaseNotes(template, facts)).toBe(
      `\n… (cut: the template repeated more than ${MAX_NOTES_STEPS} times)`,
    );
  });

  test('a template testing a few conditions per package renders whole', () => {
    const template =
      '#{each p in Release.Packages}#{if p.Changed}#{p.Name}#{else}-#{/if}#{if p.Digest}@#{/if}#{/each}';
    expect(renderReleaseNotes(template, facts)).toBe(facts.packages.map((p) => `${p.name}@`).join(''));
  });
});
