import {
  MAX_NOTES_LENGTH,
  MAX_NOTES_NESTING,
  MAX_NOTES_TEMPLATE_LENGTH,
  NotesTemplateError,
} from '../../src/domain/notes-template';
import { ProjectSpecSchema } from '../../src/domain/project';
import { octopusReleaseBody } from '../../src/targets/octopus';
import {
  checkReleaseNotesTemplate,
  ReleaseNotesFacts,
  renderReleaseNotes,
} from '../../src/domain/release-notes';

const pkg = (name: string, tag: string) => ({
  name,
  feed: 'docker.io',
  package: `library/${name}`,
  tag,
  digest: `sha256:${name}${tag}`,
});

const facts: ReleaseNotesFacts = {
  project: 'shop',
  number: '0.0.2',
  channel: 'stable',
  createdAt: '2026-12-06T12:00:00.000Z',
  reason: 'web 1.1.0 is later than 1.0.0',
  source: { kind: 'trigger', trigger: 'trigger/shop/web-watch' },
  packages: [pkg('web', '1.1.0'), pkg('db', '2.0.0')],
  previous: { number: '0.0.1', packages: [pkg('web', '1.0.0'), pkg('db', '2.0.0')] },
};

/** The refusal a template gets, as "reason at line L, column C". */
function refusal(template: string): string {
  try {
    checkReleaseNotesTemplate(template);
  } catch (err) {
    expect(err).toBeInstanceOf(NotesTemplateError);
    return (err as Error).message;
  }
  throw new Error(`the template was accepted: ${template.slice(0, 80)}`);
}

describe('release-notes templates render', () => {
  test('variables, the packages with their previous versions, and the trigger', () => {
    const template = [
      '#{Project.Name} #{Release.Number} (#{Release.Channel}) by #{Release.Trigger}',
      '#{each p in Release.Packages}',
      '- #{p.Name} #{p.Version}#{if p.Changed} (was #{p.PreviousVersion})#{/if}',
      '#{/each}',
      'Before: #{Release.Previous.Number}',
      '#{each p in Release.Previous.Packages}',
      '  #{p.Name}=#{p.Version}',
      '#{/each}',
    ].join('\n');
    expect(renderReleaseNotes(template, facts)).toBe(
      [
        'shop 0.0.2 (stable) by web-watch',
        '- web 1.1.0 (was 1.0.0)',
        '- db 2.0.0',
        'Before: 0.0.1',
        '  web=1.0.0',
        '  db=2.0.0',
        '',
      ].join('\n'),
    );
  });

  test('if/else on the first release of a channel, and a manual release has no trigger', () => {
    const template =
      '#{if Release.Previous.Number}after #{Release.Previous.Number}#{else}first#{/if}|#{Release.Source}|#{Release.Trigger}|#{Release.Notification}';
    expect(renderReleaseNotes(template, { ...facts, previous: null, source: { kind: 'manual' } })).toBe(
      'first|manual||',
    );
    expect(renderReleaseNotes(template, facts)).toBe('after 0.0.1|trigger|web-watch|');
    expect(renderReleaseNotes(template, { ...facts, notification: 'webhook hub' })).toBe(
      'after 0.0.1|trigger|web-watch|webhook hub',
    );
  });

  test('##{ writes a literal #{, and a lone # stays', () => {
    expect(renderReleaseNotes('##{Release.Number} is #{Release.Number} #1', facts)).toBe(
      '#{Release.Number} is 0.0.2 #1',
    );
  });

  test('values are written as text, never read as template', () => {
    const hostile = { ...facts, reason: '#{Project.Name} #{constructor}' };
    expect(renderReleaseNotes('#{Release.Reason}', hostile)).toBe('#{Project.Name} #{constructor}');
  });
});

describe('release-notes templates refuse, naming the line and column', () => {
  test.each([
    ['#{Release.Nmber}', 'unknown variable "Release.Nmber" at line 1, column 1'],
    ['ok\n  #{constructor}', 'unknown variable "constructor" at line 2, column 3'],
    ['#{Release.constructor}', 'unknown variable "Release.constructor" at line 1, column 1'],
    ['#{__proto__}', 'is not a variable name'],
    ['#{Release.__proto__.x}', 'is not a variable name'],
    ['#{Project.Name.toString}', 'unknown variable "Project.Name.toString"'],
    ['#{p.Name}', 'unknown variable "p.Name"'],
    ['#{each p in Release.Packages}#{p.Nope}#{/each}', 'unknown variable "p.Nope" at line 1, column 30'],
    ['text #{Release.Number', '"#{" is not closed by "}" on its line at line 1, column 6'],
    ['#{Release.Number\n}', 'is not closed'],
    ['#{each p in Release.Packages}', '"#{each}" is never closed by "#{/each}" at line 1, column 1'],
    ['#{if Release.Reason}x', '"#{if}" is never closed'],
    ['#{/each}', '"#{/each}" closes no open "#{each}" block'],
    ['#{if Release.Reason}#{/each}', 'closes no open "#{each}"'],
    ['#{else}', '"#{else}" outside an "#{if}" block'],
    ['#{if Release.Reason}a#{else}b#{else}c#{/if}', '"#{else}" outside'],
    ['#{each p in Release.Number}#{/each}', '"Release.Number" is not a list'],
    ['#{Release.Packages}', 'is a list, not text'],
    ['#{Release}', 'is a group of variables, not text'],
    ['#{if Release}x#{/if}', 'is a group of variables; test one of them'],
    ['#{each Release in Release.Packages}#{/each}', 'hides another variable'],
    ['#{each p in Release.Packages}#{each p in Release.Packages}#{/each}#{/each}', 'hides another variable'],
    ['#{each p.x in Release.Packages}#{/each}', 'a loop variable is one name'],
    ['#{each p of Release.Packages}#{/each}', 'is not "#{each NAME in LIST}"'],
    ['#{Release.Number | upper}', 'is not a variable name'],
    ['#{}', 'is not a variable name'],
  ])('%j', (template, message) => {
    expect(refusal(template)).toContain(message);
  });

  test('blocks nested past the limit', () => {
    const deep =
      '#{if Release.Reason}'.repeat(MAX_NOTES_NESTING + 1) + '#{/if}'.repeat(MAX_NOTES_NESTING + 1);
    expect(refusal(deep)).toContain(`blocks nest at most ${MAX_NOTES_NESTING} deep`);
    const limit = '#{if Release.Reason}'.repeat(MAX_NOTES_NESTING) + 'x' + '#{/if}'.repeat(MAX_NOTES_NESTING);
    expect(renderReleaseNotes(limit, facts)).toBe('x');
  });

  test('a 1 MB template, refused before it is read', () => {
    const huge = '#{Release.Number}'.repeat(Math.ceil((1024 * 1024) / 17));
    expect(refusal(huge)).toContain(`at most ${MAX_NOTES_TEMPLATE_LENGTH} are allowed`);
  });

  test('a project whose channel has a bad template is refused at that field', () => {
    const result = ProjectSpecSchema.safeParse({
      name: 'shop',
      packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }],
      channels: [{ name: 'stable' }, { name: 'beta', releaseNotes: 'Hi\n#{Release.Nope}' }],
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues).toEqual([
      expect.objectContaining({
        path: ['channels', 1, 'releaseNotes'],
        message: 'unknown variable "Release.Nope" at line 2, column 1',
      }),
    ]);
    const big = ProjectSpecSchema.safeParse({
      name: 'shop',
      packages: [{ name: 'web', feed: 'docker.io', package: 'library/nginx' }],
      channels: [{ name: 'stable', releaseNotes: 'x'.repeat(1024 * 1024) }],
    });
    expect(big.error!.issues[0].path).toEqual(['channels', 0, 'releaseNotes']);
  });
});

describe('release-notes rendering is bounded', () => {
  const many: ReleaseNotesFacts = {
    ...facts,
    packages: Array.from({ length: 50 }, (_, i) => pkg(`p${i}`, '1.0.0')),
  };

  test('nested loops stop at the work limit and say so', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const template =
      names.map((n) => `#{each ${n} in Release.Packages}`).join('') +
      '.' +
      names.map(() => '#{/each}').join('');
    // 50^6 turns unbounded: the cap ends it after 20,000 steps, with the dots written until then.
    const notes = renderReleaseNotes(template, many);
    expect(notes).toMatch(/^\.+\n… \(cut: the template repeated more than 20000 times\)$/);
  });

  test('output stops at the length limit, never halfway through a surrogate pair', () => {
    const template =
      '#{each a in Release.Packages}#{each b in Release.Packages}' + '😀'.repeat(300) + '#{/each}#{/each}';
    const notes = renderReleaseNotes(template, many);
    const [body, tail] = notes.split('\n… (cut: ');
    expect(tail).toBe(`release notes are at most ${MAX_NOTES_LENGTH} characters)`);
    expect(body.length).toBeLessThanOrEqual(MAX_NOTES_LENGTH);
    expect(body.length % 2).toBe(0);
    expect(body).toBe('😀'.repeat(body.length / 2));
  });
});

describe('where release notes go', () => {
  const target = {
    serverUrl: 'https://octopus.example',
    spaceId: 'Spaces-1',
    projectId: 'Projects-1',
    steps: {},
  };

  test('Octopus gets them as ReleaseNotes; a release without notes sends the body it always did', () => {
    const body = (notes: string | null) =>
      JSON.parse(octopusReleaseBody(target, '1.2.0', [{ name: 'web', tag: '1.2.0' }], notes)) as object;
    expect(body('- web 1.2.0\n')).toEqual({
      ProjectId: 'Projects-1',
      Version: '1.2.0',
      ReleaseNotes: '- web 1.2.0\n',
      SelectedPackages: [{ ActionName: 'web', PackageReferenceName: '', Version: '1.2.0' }],
    });
    expect(body(null)).not.toHaveProperty('ReleaseNotes');
  });
});
