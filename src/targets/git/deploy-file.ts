import { isDeepStrictEqual } from 'node:util';
import {
  Alias,
  CST,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Node,
  Pair,
  parseDocument,
  Parser,
  Scalar,
  YAMLMap,
  YAMLSeq,
  Document,
} from 'yaml';
import { composeYaml, refuseDeepYaml, yamlErrorAt, YamlTooDeepError } from '../../domain/yaml-depth';

/** One file to write: where the version goes and which version. */
export interface DeployFileEdit {
  readonly path: string;
  readonly format: 'kustomize' | 'yaml';
  /** kustomize: the `images:` entry's name. */
  readonly image?: string;
  /** yaml: the dotted path of the value. */
  readonly field?: string;
  /** kustomize: `newTag` or `digest`; yaml: the value. */
  readonly use: 'tag' | 'digest';
  readonly tag: string;
  readonly digest: string | null;
}

/** The file cannot take the edit (not YAML, not the expected shape): retrying cannot fix it. */
export class DeployFileError extends Error {
  readonly code = 'DEPLOY_FILE_REFUSED';
  constructor(message: string) {
    super(message);
    // By name across the CPU pool's threads (write-back.ts).
    this.name = 'DeployFileError';
  }
}

type Doc = Document.Parsed;
type Range = [number, number, number];

/**
 * Writes the version into a deploy file's text and answers the new text. Only the bytes of the edited
 * scalar change (or, when a key is missing, the lines added for it): comments, quoting, flow style,
 * line endings, a BOM and anchors elsewhere stay as they were, because a GitOps diff is read by people
 * and a reformatted file hides the change. The result is checked against the same edit made on the
 * parsed document: a splice that would mean anything else is refused rather than committed.
 */
export function editDeployFile(text: string, file: DeployFileEdit): string {
  // A repository's file is anyone's text: nesting that would overflow the parser is refused first.
  let tokens: CST.Token[];
  try {
    tokens = refuseDeepYaml(text);
  } catch (err) {
    if (err instanceof YamlTooDeepError) throw new DeployFileError(`${file.path}: ${err.message}`);
    throw err;
  }
  // Two documents of the one syntax tree: the one edited in place, and the model of the edit.
  const doc = parse(text, file.path, tokens);
  const model = parse(text, file.path, tokens);
  let next: string;
  if (file.format === 'kustomize') {
    next = editKustomization(text, doc, file);
    modelKustomization(model, file);
  } else {
    const value = file.use === 'digest' ? file.digest : file.tag;
    if (!value) throw new DeployFileError(`the release has no digest to write into ${file.path}`);
    const keys = file.field!.split('.');
    next = setField(text, doc, keys, value, file.path);
    modelField(model, keys, value);
  }
  if (next === text) return text;
  const written = parse(next, file.path);
  if (!isDeepStrictEqual(toJS(written, file.path), toJS(model, file.path)))
    throw new DeployFileError(`${file.path}: the edit cannot be made without changing other values`);
  return next;
}

/** The text's document (from its tokens when given), refused with its first error placed (composeYaml). */
function parse(text: string, where: string, tokens?: readonly CST.Token[]): Doc {
  const doc = composeYaml(tokens ?? [...new Parser().parse(text)], text);
  if (doc.errors.length > 0)
    throw new DeployFileError(`${where} is not valid YAML: ${yamlErrorAt(text, doc.errors[0])}`);
  return doc;
}

function toJS(doc: Doc, where: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new DeployFileError(`${where}: ${(err as Error).message.split('\n')[0]}`);
  }
}

// --- kustomize ---------------------------------------------------------------------------------------

function editKustomization(text: string, doc: Doc, file: DeployFileEdit): string {
  if (!isMap(doc.contents)) throw new DeployFileError(`${file.path} is not a kustomization (no mapping)`);
  const [key, other] = file.use === 'digest' ? ['digest', 'newTag'] : ['newTag', 'digest'];
  const value = file.use === 'digest' ? file.digest : file.tag;
  if (!value) throw new DeployFileError(`the release has no digest for ${file.image}`);
  const images = pairOf(doc.contents, 'images');
  const entryText = { name: file.image!, [key]: value };
  if (!images) return addPair(text, doc.contents, ['images'], [entryText]);
  if (isNull(images.value)) {
    if (doc.contents.flow)
      return replaceScalar(text, images.value, '', file.path, 'images', true, `[${flowText(entryText)}]`);
    const eol = eolOf(text);
    const indent = columnOf(text, (images.key as Node).range![0]) + 2;
    return replaceEmptyValue(text, images, `${eol}${listItem(entryText, indent, eol)}`);
  }
  if (!isSeq(images.value)) throw new DeployFileError(`${file.path}: images is not a list`);
  const entry = images.value.items.find((i) => isMap(i) && i.get('name') === file.image) as
    YAMLMap | undefined;
  if (!entry) return addItem(text, images.value, entryText);
  let next = setField(
    text,
    doc,
    ['images', String(images.value.items.indexOf(entry)), key],
    value,
    file.path,
  );
  // Drop the other key (a digest replaces a tag and back), found again in the edited text.
  const edited = parse(next, file.path);
  const again = (edited.get('images') as YAMLSeq).items[images.value.items.indexOf(entry)] as YAMLMap;
  const stale = pairOf(again, other);
  if (stale) next = removePair(next, again, stale);
  return next;
}

function modelKustomization(doc: Doc, file: DeployFileEdit): void {
  let images = doc.get('images');
  if (images === undefined || images === null) {
    doc.set('images', doc.createNode([]));
    images = doc.get('images');
  }
  const seq = images as YAMLSeq;
  let entry = seq.items.find((i) => isMap(i) && i.get('name') === file.image) as YAMLMap | undefined;
  if (!entry) {
    entry = doc.createNode({ name: file.image }) as YAMLMap;
    seq.items.push(entry);
  }
  if (file.use === 'digest') {
    entry.set('digest', file.digest);
    entry.delete('newTag');
  } else {
    entry.set('newTag', file.tag);
    entry.delete('digest');
  }
}

// --- fields ------------------------------------------------------------------------------------------

/** Sets the value at `keys` (map keys, or list indexes written as numbers) by splicing the source text. */
function setField(text: string, doc: Doc, keys: readonly string[], value: string, where: string): string {
  if (doc.contents === null || isNull(doc.contents)) return appendRoot(text, keys, value);
  let node: unknown = doc.contents;
  for (let i = 0; i < keys.length; i++) {
    const last = i === keys.length - 1;
    const at = keys.slice(0, i + 1).join('.');
    if (isSeq(node) && /^\d+$/.test(keys[i])) {
      const item = node.items[Number(keys[i])];
      if (item === undefined) throw new DeployFileError(`${where}: ${at} is not in the list`);
      if (last) return replaceScalar(text, item, value, where, at, node.flow === true);
      node = item;
      continue;
    }
    if (!isMap(node))
      throw new DeployFileError(`${where}: ${keys.slice(0, i).join('.') || 'the document'} is not a mapping`);
    const pair = pairOf(node, keys[i]);
    if (!pair) return addPair(text, node, keys.slice(i), value);
    if (last && isNull(pair.value) && emptySource(text, pair.value)) {
      // `host: # a comment`: the value goes after the colon, the comment stays.
      const from = (pair.key as Node).range![1];
      const colon = text.indexOf(':', from);
      if (colon < 0 || !/^[ \t]*$/.test(text.slice(from, colon)))
        throw new DeployFileError(`${where}: ${at} has no value to replace`);
      return splice(text, [colon + 1, colon + 1], ` ${render(value, node.flow === true)}`);
    }
    if (last) return replaceScalar(text, pair.value, value, where, at, node.flow === true);
    if (isNull(pair.value) && !node.flow) {
      const eol = eolOf(text);
      const indent = columnOf(text, (pair.key as Node).range![0]) + 2;
      const rest = nest(keys.slice(i + 2), value);
      return replaceEmptyValue(text, pair, `${eol}${block(keys[i + 1], rest, indent, eol)}`);
    }
    node = pair.value;
  }
  throw new DeployFileError(`${where}: no field to set`);
}

function modelField(doc: Doc, keys: readonly string[], value: string): void {
  const path: (string | number)[] = [];
  for (const k of keys) {
    if (path.length > 0 && isNull(doc.getIn(path, true))) doc.setIn(path, doc.createNode({}));
    path.push(isSeq(doc.getIn(path)) && /^\d+$/.test(k) ? Number(k) : k);
  }
  const node = doc.getIn(path, true);
  // An anchored scalar keeps its anchor: its aliases follow, as they do in the spliced text.
  if (isScalar(node) && node.value !== null) node.value = value;
  else doc.setIn(path, value);
}

const STR_TAG = 'tag:yaml.org,2002:str';

/** Replaces a scalar (or an alias) with the value, in the scalar's own quoting style. */
function replaceScalar(
  text: string,
  node: unknown,
  value: string,
  where: string,
  at: string,
  flow: boolean,
  literal?: string,
): string {
  if (isAlias(node)) return splice(text, (node as Alias).range!, literal ?? render(value, flow));
  if (!isScalar(node) || !node.range) throw new DeployFileError(`${where}: ${at} is not a single value`);
  // The splice keeps the tag before the value: `tag: !!int 1` would become `!!int v2`, which Go's YAML (Helm,
  // kustomize) refuses to decode, and `!Ref v1` another application's reference. Only strings are written.
  if (node.tag !== undefined && node.tag !== STR_TAG)
    throw new DeployFileError(
      `${where}: ${at} has the explicit tag ${node.tag}; write-back writes strings only`,
    );
  const [start, end] = node.range;
  if (literal !== undefined) return splice(text, [start, end], literal);
  const old = text.slice(start, end);
  switch (node.type) {
    case Scalar.QUOTE_DOUBLE:
      return splice(text, [start, end], JSON.stringify(value));
    case Scalar.QUOTE_SINGLE:
      return splice(text, [start, end], `'${value.replaceAll("'", "''")}'`);
    case Scalar.BLOCK_FOLDED:
    case Scalar.BLOCK_LITERAL:
      // A block scalar's source ends with its line breaks; they stay.
      return splice(text, [start, end], `${JSON.stringify(value)}${/(\r?\n)*$/.exec(old)![0]}`);
    default:
      return splice(text, [start, end], render(value, flow));
  }
}

// --- adding keys and items ---------------------------------------------------------------------------

type Value = string | Record<string, string> | Record<string, string>[];

/** Adds `keys[0]: ...` (nested maps down to the value) as the last pair of a map. */
function addPair(text: string, map: YAMLMap, keys: readonly string[], value: Value): string {
  const nested = nest(keys.slice(1), value);
  if (map.flow) return insertInFlow(text, map, `${renderKey(keys[0])}: ${flowText(nested)}`);
  const indent = columnOf(text, firstOffset(map));
  return insertAfterBlock(text, map, block(keys[0], nested, indent, eolOf(text)));
}

/** Adds an item at the end of a list. */
function addItem(text: string, seq: YAMLSeq, item: Record<string, string>): string {
  if (seq.flow) return insertInFlow(text, seq, flowText(item));
  const indent = columnOf(text, firstOffset(seq));
  return insertAfterBlock(text, seq, listItem(item, indent, eolOf(text)));
}

/** Replaces what follows a key with an empty value (`image:`, `image: ~`) up to the end of its line. */
function replaceEmptyValue(text: string, pair: Pair, tail: string): string {
  const key = pair.key as Node;
  const from = key.range![1];
  const lineEnd = text.indexOf('\n', from);
  const to = lineEnd < 0 ? text.length : lineEnd + 1;
  if (!/^[ \t]*:[ \t]*(~|null|Null|NULL)?[ \t]*(#.*)?$/.test(text.slice(from, to).replace(/\r?\n$/, '')))
    throw new DeployFileError(
      `the empty value of ${String(isScalar(key) ? key.value : 'a key')} is not on its line`,
    );
  return `${text.slice(0, from)}:${tail}${text.slice(to)}`;
}

function emptySource(text: string, node: unknown): boolean {
  return node === null || (isScalar(node) && (!node.range || node.range[0] === node.range[1]));
}

function appendRoot(text: string, keys: readonly string[], value: Value): string {
  const eol = eolOf(text);
  const sep = text === '' || text.endsWith('\n') ? '' : eol;
  return `${text}${sep}${block(keys[0], nest(keys.slice(1), value), 0, eol)}`;
}

function nest(keys: readonly string[], value: Value): Value | Record<string, Value> {
  return keys.reduceRight<Value | Record<string, Value>>(
    (v, k) => ({ [k]: v }) as Record<string, Value>,
    value,
  );
}

/** Block text for `key: value` at `indent`, nested maps and lists below it; ends with a line break. */
function block(key: string, value: unknown, indent: number, eol: string): string {
  const pad = ' '.repeat(indent);
  if (typeof value === 'string') return `${pad}${renderKey(key)}: ${render(value, false)}${eol}`;
  if (Array.isArray(value))
    return `${pad}${renderKey(key)}:${eol}${value.map((i) => listItem(i as Record<string, string>, indent + 2, eol)).join('')}`;
  return `${pad}${renderKey(key)}:${eol}${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => block(k, v, indent + 2, eol))
    .join('')}`;
}

function listItem(item: Record<string, string>, indent: number, eol: string): string {
  const pad = ' '.repeat(indent);
  return Object.entries(item)
    .map(([k, v], i) => `${i === 0 ? `${pad}- ` : `${pad}  `}${renderKey(k)}: ${render(v, false)}${eol}`)
    .join('');
}

function flowText(value: unknown): string {
  if (typeof value === 'string') return render(value, true);
  if (Array.isArray(value)) return `[${value.map(flowText).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${renderKey(k)}: ${flowText(v)}`)
    .join(', ')}}`;
}

/** Inserts block text (whole lines) after the last line of a block map or list. */
function insertAfterBlock(text: string, node: YAMLMap | YAMLSeq, lines: string): string {
  let at = node.range![1];
  // A collection can end after the next line's indentation: insert at that line's start.
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  if (/^[ \t]*$/.test(text.slice(lineStart, at))) at = lineStart;
  if (at > 0 && text[at - 1] !== '\n') {
    // The collection ends inside a line (a comment after it, or the end of the file): after that line.
    const lineEnd = text.indexOf('\n', at);
    if (lineEnd < 0) return `${text}${eolOf(text)}${lines}`;
    at = lineEnd + 1;
  }
  return `${text.slice(0, at)}${lines}${text.slice(at)}`;
}

/** Inserts an item before the closing bracket of a flow map or list. */
function insertInFlow(text: string, node: YAMLMap | YAMLSeq, item: string): string {
  const close = node.range![1] - 1;
  if (text[close] !== (isMap(node) ? '}' : ']'))
    throw new DeployFileError('a flow collection does not end where it was parsed');
  const inner = text.slice(node.range![0] + 1, close);
  if (node.items.length === 0)
    return splice(
      text,
      [node.range![0], close + 1],
      `${isMap(node) ? '{' : '['}${item}${isMap(node) ? '}' : ']'}`,
    );
  // After the last item, before any spaces, a trailing comma or the line break that precede the bracket.
  const tail = /[\s,]*$/.exec(inner)![0].length;
  const at = close - tail;
  return `${text.slice(0, at)}, ${item}${text.slice(at)}`;
}

/** Removes one pair of a map: its lines in block style, the pair and its comma in flow style. */
function removePair(text: string, map: YAMLMap, pair: Pair): string {
  const i = map.items.indexOf(pair);
  const key = pair.key as Node;
  const end = ((pair.value as Node | null)?.range ?? key.range!) as Range;
  const nextKey = map.items[i + 1]?.key as Node | undefined;
  if (map.flow) {
    if (nextKey) return splice(text, [key.range![0], nextKey.range![0]], '');
    const prev = map.items[i - 1];
    const from = prev ? ((prev.value as Node | null)?.range ?? (prev.key as Node).range!)[1] : key.range![0];
    return splice(text, [from, end[1]], '');
  }
  const lineStart = text.lastIndexOf('\n', key.range![0] - 1) + 1;
  if (/^[\s\uFEFF]*$/.test(text.slice(lineStart, key.range![0])))
    return splice(text, [lineStart, end[2]], '');
  // The first pair of a list item (`- newTag: 1`): the next pair moves up to its place.
  if (nextKey) return splice(text, [key.range![0], nextKey.range![0]], '');
  throw new DeployFileError(`cannot remove ${String(isScalar(key) ? key.value : 'a key')}`);
}

// --- text helpers ------------------------------------------------------------------------------------

function splice(text: string, [start, end]: readonly number[], insert: string): string {
  return `${text.slice(0, start)}${insert}${text.slice(end)}`;
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === key);
}

function isNull(node: unknown): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** Where a block collection's entries start: its first key, or its first `-`. */
function firstOffset(node: YAMLMap | YAMLSeq): number {
  const key = isMap(node) ? ((node.items[0] as Pair | undefined)?.key as Node | undefined) : undefined;
  return key?.range?.[0] ?? node.range![0];
}

/** The column of an offset, not counting a byte-order mark at the start of the file. */
function columnOf(text: string, offset: number): number {
  let lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  if (lineStart === 0 && text.startsWith('\uFEFF')) lineStart = 1;
  const before = text.slice(lineStart, offset);
  // A map inside a list item starts after its `- `: the column is still where its keys are.
  return before.length;
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** A value as a plain scalar when it reads back as the same string in YAML 1.1 and 1.2, else double-quoted. */
function render(value: string, flow: boolean): string {
  if (flow && /[,[\]{}]/.test(value)) return JSON.stringify(value);
  for (const version of ['1.1', '1.2'] as const) {
    const probe = parseDocument(`k: ${value}\n`, { version });
    const read = probe.errors.length === 0 && isMap(probe.contents) ? probe.contents.items[0]?.value : null;
    if (!isScalar(read) || read.value !== value || read.type !== Scalar.PLAIN) return JSON.stringify(value);
  }
  return value;
}

function renderKey(key: string): string {
  return render(key, true);
}
