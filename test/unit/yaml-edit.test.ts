import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { DeployFileEdit, DeployFileError, editDeployFile } from '../../src/targets/git/deploy-file';

const corpus = path.resolve(__dirname, '../fixtures/deploy-files');
const real = (name: string) => readFileSync(path.join(corpus, name), 'utf8');

const field = (f: string, tag: string, over: Partial<DeployFileEdit> = {}): DeployFileEdit => ({
  path: 'values.yaml',
  format: 'yaml',
  field: f,
  use: 'tag',
  tag,
  digest: null,
  ...over,
});
const image = (name: string, tag: string, over: Partial<DeployFileEdit> = {}): DeployFileEdit => ({
  path: 'kustomization.yaml',
  format: 'kustomize',
  image: name,
  use: 'tag',
  tag,
  digest: null,
  ...over,
});

/** `text` with `length` bytes at `at` replaced: what a one-scalar edit may change, and nothing else. */
const spliced = (text: string, at: number, length: number, insert: string) =>
  `${text.slice(0, at)}${insert}${text.slice(at + length)}`;

/** Bytes that differ between two texts (the changed middle, after the common start and end). */
function changedBytes(before: string, after: string): { removed: number; added: number } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (
    end < before.length - start &&
    end < after.length - start &&
    before[before.length - 1 - end] === after[after.length - 1 - end]
  )
    end++;
  return {
    removed: Buffer.byteLength(before.slice(start, before.length - end)),
    added: Buffer.byteLength(after.slice(start, after.length - end)),
  };
}

describe('a one-tag write-back changes only the bytes of the tag', () => {
  test('real Helm values (argocd-example-apps helm-guestbook, podinfo): exactly the tag bytes', () => {
    const guestbook = real('helm-guestbook-values.yaml');
    const at = guestbook.indexOf('tag: 1.21.0') + 'tag: '.length;
    expect(editDeployFile(guestbook, field('image.tag', '1.27.3'))).toBe(spliced(guestbook, at, 6, '1.27.3'));
    const podinfo = real('podinfo-values.yaml');
    const next = editDeployFile(podinfo, field('image.tag', '6.10.0'));
    expect(next).toBe(spliced(podinfo, podinfo.indexOf('tag: 6.9.1') + 5, 5, '6.10.0'));
    expect(changedBytes(podinfo, next)).toEqual({ removed: 3, added: 4 });
    // The same tag again is no change at all.
    expect(editDeployFile(next, field('image.tag', '6.10.0'))).toBe(next);
  });

  test('real kustomizations (argo-cd, kustomize helloWorld): the newTag bytes, or an images entry appended', () => {
    const argo = real('argo-cd-kustomization.yaml');
    expect(editDeployFile(argo, image('quay.io/argoproj/argocd', 'v2.8.0'))).toBe(
      spliced(argo, argo.indexOf('v2.7.6'), 6, 'v2.8.0'),
    );
    const hello = real('kustomize-hello-world-kustomization.yaml');
    expect(editDeployFile(hello, image('monopole/hello', '1.0.1'))).toBe(
      `${hello}images:\n  - name: monopole/hello\n    newTag: 1.0.1\n`,
    );
  });

  test('every value of every real file can be set with only its own bytes changing', () => {
    for (const name of readdirSync(corpus).filter((f) => f.endsWith('.yaml'))) {
      const text = real(name);
      const doc = parseDocument(text);
      const leaves: Array<{ keys: string[]; range: [number, number] }> = [];
      visit(doc, {
        Scalar(key, node, ancestors) {
          if ((key !== 'value' && typeof key !== 'number') || !node.range) return;
          const keys: string[] = [];
          for (let i = 1; i < ancestors.length; i++) {
            const a = ancestors[i];
            const parent = ancestors[i - 1];
            if (isSeq(parent)) keys.push(String(parent.items.indexOf(a as never)));
            else if (isMap(parent) && isScalar((a as { key?: unknown }).key))
              keys.push(String((a as { key: { value: unknown } }).key.value));
          }
          if (typeof key === 'number') keys.push(String(key));
          if (keys.every((k) => !k.includes('.')))
            leaves.push({ keys, range: [node.range[0], node.range[1]] });
        },
      });
      expect([name, leaves.length > 3]).toEqual([name, true]);
      for (const leaf of leaves) {
        const next = editDeployFile(text, field(leaf.keys.join('.'), '9.9.9-rc.1'));
        const empty = leaf.range[0] === leaf.range[1];
        // An empty value (`hostPort:`) gains a space and the value after its colon; others are replaced.
        const changed = changedBytes(text, next);
        expect([name, leaf.keys.join('.'), changed.removed <= leaf.range[1] - leaf.range[0]]).toEqual([
          name,
          leaf.keys.join('.'),
          true,
        ]);
        expect(changed.added).toBeLessThanOrEqual(empty ? ' 9.9.9-rc.1'.length : '"9.9.9-rc.1"'.length);
      }
    }
  });
});

describe('hostile files stay byte-identical outside the edited scalar', () => {
  test('CRLF line endings and a byte-order mark', () => {
    const text =
      '\uFEFF# shop\r\nimage:\r\n  repository: shop/web\r\n  tag: 1.0.0 # pinned\r\nreplicas: 2\r\n';
    expect(editDeployFile(text, field('image.tag', '1.2.0'))).toBe(text.replace('1.0.0', '1.2.0'));
    // A new key is written with the file's own line ending.
    expect(
      editDeployFile(text, field('image.digest', 'sha256:ab', { use: 'digest', digest: 'sha256:ab' })),
    ).toBe(text.replace('# pinned\r\n', '# pinned\r\n  digest: sha256:ab\r\n'));
  });

  test('flow mappings and sequences keep their spacing; quotes keep their style', () => {
    const text = 'image: {repository: shop/web,   tag: "1.0.0"}\nports: [80,443,  8080]\nold: \'1.0.0\'\n';
    expect(editDeployFile(text, field('image.tag', '1.2.0'))).toBe(text.replace('"1.0.0"', '"1.2.0"'));
    expect(editDeployFile(text, field('old', "it's"))).toBe(text.replace("'1.0.0'", "'it''s'"));
    expect(editDeployFile(text, field('image.pullPolicy', 'Always'))).toBe(
      text.replace('"1.0.0"}', '"1.0.0", pullPolicy: Always}'),
    );
  });

  test('a 20 kB quoted string and a folded one are left as they are', () => {
    const long = Array.from({ length: 2500 }, (_, i) => `word${i}`).join(' ');
    const folded = `'${long.slice(0, 200)}\n  ${long.slice(200, 400)}'`;
    const text = `description: "${long}"\nsummary: ${folded}\nimage:\n  tag: 1.0.0\n`;
    expect(text.length).toBeGreaterThan(20_000);
    const next = editDeployFile(text, field('image.tag', '1.2.0'));
    expect(next).toBe(text.replace('tag: 1.0.0', 'tag: 1.2.0'));
    expect(next.split('\n')).toHaveLength(text.split('\n').length);
  });

  test('anchors and aliases: an alias at the field is replaced, an anchor elsewhere is untouched', () => {
    const text =
      'defaults: &defaults\n  pullPolicy: Always\nversion: &v 1.0.0\nimage:\n  <<: *defaults\n  tag: *v\nother: *defaults\n';
    expect(editDeployFile(text, field('image.tag', '1.2.0'))).toBe(text.replace('tag: *v', 'tag: 1.2.0'));
    // An anchored value keeps its anchor; what aliases it follows, as the file's author linked them.
    const anchored = 'image:\n  tag: &t 1.0.0\nsidecar:\n  tag: *t\n';
    expect(editDeployFile(anchored, field('image.tag', '1.2.0'))).toBe(
      anchored.replace('&t 1.0.0', '&t 1.2.0'),
    );
  });

  test('values that would read back as something else are quoted; block scalars become quoted', () => {
    const text = 'image:\n  tag: 1.0.0\nnote: |\n  multi\n  line\nend: 1\n';
    expect(editDeployFile(text, field('image.tag', '1.10'))).toBe(text.replace('1.0.0', '"1.10"'));
    expect(editDeployFile(text, field('image.tag', 'true'))).toBe(text.replace('1.0.0', '"true"'));
    expect(editDeployFile(text, field('image.tag', 'yes'))).toBe(text.replace('1.0.0', '"yes"'));
    expect(editDeployFile(text, field('note', '2.0.0'))).toBe(
      text.replace('|\n  multi\n  line\n', '"2.0.0"\n'),
    );
  });

  test('kustomize: digest replaces newTag (and back) line by line; flow lists take a flow item', () => {
    const text =
      'images:\n  - name: shop/web # the app\n    newTag: 1.0.0\n  - name: other\n    newTag: 2.0.0\n';
    const digest = `sha256:${'ab'.repeat(32)}`;
    const pinned = editDeployFile(text, image('shop/web', '1.0.0', { use: 'digest', digest }));
    expect(pinned).toBe(text.replace('    newTag: 1.0.0\n', `    digest: ${digest}\n`));
    expect(editDeployFile(pinned, image('shop/web', '1.1.0'))).toBe(text.replace('1.0.0', '1.1.0'));
    expect(editDeployFile(text, image('new/one', '3.0.0'))).toBe(
      `${text}  - name: new/one\n    newTag: 3.0.0\n`,
    );
    const flow = 'images: [{name: other, newTag: "2"}]\nresources: [a.yaml]\n';
    expect(editDeployFile(flow, image('shop/web', '1.0.0'))).toBe(
      flow.replace('"2"}]', '"2"}, {name: shop/web, newTag: 1.0.0}]'),
    );
    expect(editDeployFile('images:\nresources: []\n', image('shop/web', '1.0.0'))).toBe(
      'images:\n  - name: shop/web\n    newTag: 1.0.0\nresources: []\n',
    );
  });

  test('missing keys are added as lines of their own; an empty value takes the value after its colon', () => {
    expect(editDeployFile('', field('image.tag', '1.0.0'))).toBe('image:\n  tag: 1.0.0\n');
    expect(editDeployFile('# only a comment', field('image.tag', '1.0.0'))).toBe(
      '# only a comment\nimage:\n  tag: 1.0.0\n',
    );
    expect(editDeployFile('image:\nreplicas: 1\n', field('image.tag', '1.0.0'))).toBe(
      'image:\n  tag: 1.0.0\nreplicas: 1\n',
    );
    expect(editDeployFile('host: # 0.0.0.0\n', field('host', 'a.example'))).toBe(
      'host: a.example # 0.0.0.0\n',
    );
  });

  test('a file that is not YAML of the expected shape is refused with the reason', () => {
    expect(() => editDeployFile('a: [1, 2\n', field('a', '1'))).toThrow(/not valid YAML/);
    expect(() => editDeployFile('- 1\n', field('a', '1'))).toThrow(DeployFileError);
    expect(() => editDeployFile('image: 1\n', field('image.tag', '1'))).toThrow(/image is not a mapping/);
    expect(() => editDeployFile('images: {}\n', image('x', '1'))).toThrow(/images is not a list/);
    expect(() => editDeployFile('- x\n', image('x', '1'))).toThrow(/not a kustomization/);
  });

  test('the first of many errors is named with its place', () => {
    const path = field('a', '1').path;
    expect(() => editDeployFile('a: 1\nb: [1, 2\n', field('a', '2'))).toThrow(
      `${path} is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1`,
    );
    // The library's pretty errors copied and scanned the line once per error (bench:hostile times 65,536 of them).
    expect(() => editDeployFile(']'.repeat(4096), field('a', '1'))).toThrow(
      `${path} is not valid YAML: Unexpected flow-seq-end token in YAML document: "]" at line 1, column 1`,
    );
    expect(() => editDeployFile(`a: 1\n${'{a}'.repeat(1365)}`, field('a', '1'))).toThrow(
      `${path} is not valid YAML: Unexpected flow-map-start at node end at line 2, column 4`,
    );
  });

  test('a value with an explicit tag other than !!str is refused, not written under that tag', () => {
    // Kept, the tag would give `tag: !!int v2`, which Go's YAML (Helm, kustomize) cannot decode as an int.
    expect(() => editDeployFile('image:\n  tag: !!int 1\n', field('image.tag', 'v2'))).toThrow(
      /image.tag has the explicit tag tag:yaml.org,2002:int/,
    );
    expect(() => editDeployFile('image:\n  tag: !Ref v1\n', field('image.tag', 'v2'))).toThrow(/!Ref/);
    expect(editDeployFile('image:\n  tag: !!str v1\n', field('image.tag', '1e3'))).toBe(
      'image:\n  tag: !!str "1e3"\n',
    );
  });
});
