/**
 * The release-notes template language: Octopus's `#{…}` syntax reduced to what text needs and nothing that
 * runs code. `#{Release.Number}` substitutes a value, `#{each p in Release.Packages}…#{/each}` repeats for
 * each item of a list, `#{if X}…#{else}…#{/if}` chooses; `##{` writes a literal `#{`. A hand-written parser
 * checks every name against the variables' shape before anything renders, and lookups go through Maps, so
 * no template can reach a prototype (`#{constructor}` is an unknown variable, not a function). Pure.
 */

/** Templates longer than this are refused (a channel's template is part of the project's configuration). */
export const MAX_NOTES_TEMPLATE_LENGTH = 8192;
/** Rendered notes are cut to this many characters (stored with the release, sent with every delivery). */
export const MAX_NOTES_LENGTH = 16_384;
/** `each` and `if` blocks inside one another, at most. */
export const MAX_NOTES_NESTING = 8;
/**
 * Work one render may do (a node written, a condition tested or a loop turn counts one): nested loops cannot
 * multiply past it, whether their body writes or only tests.
 */
export const MAX_NOTES_STEPS = 20_000;

const NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const MAX_PATH_PARTS = 8;

/** A template the parser refuses, with the 1-based line and column of the offending tag. */
export class NotesTemplateError extends Error {
  readonly code = 'INVALID_RELEASE_NOTES_TEMPLATE';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}`);
  }
}

/** What a variable may hold: text, a list of records (for `each`) or a record of named values. */
export type NotesShape =
  | { readonly kind: 'text' }
  | { readonly kind: 'record'; readonly fields: ReadonlyMap<string, NotesShape> }
  | { readonly kind: 'list'; readonly item: NotesShape & { kind: 'record' } };

/** A value of that shape at render time (Maps, never plain objects: lookups cannot reach a prototype). */
export type NotesValue = string | readonly NotesRecord[] | NotesRecord;
export type NotesRecord = ReadonlyMap<string, NotesValue>;

type Node =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'value'; readonly path: readonly string[] }
  | {
      readonly kind: 'each';
      readonly name: string;
      readonly path: readonly string[];
      readonly body: readonly Node[];
    }
  | {
      readonly kind: 'if';
      readonly path: readonly string[];
      readonly then: readonly Node[];
      readonly otherwise: readonly Node[];
    };

/** A parsed and checked template, ready to render any number of times. */
export interface NotesTemplate {
  readonly nodes: readonly Node[];
}

function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  return { line, column: index - lineStart + 1 };
}

/** Only spaces and tabs. */
function blank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text[i] !== ' ' && text[i] !== '\t') return false;
  return true;
}

interface Frame {
  readonly kind: 'root' | 'each' | 'if';
  readonly at: number;
  readonly nodes: Node[];
  readonly name?: string;
  readonly path?: readonly string[];
  /** For `if`: the nodes before `#{else}`, once it is seen. */
  then?: Node[];
  /** For `each`: the loop variable's item shape, in scope inside the block. */
  readonly item?: NotesShape;
}

/**
 * Parses a template and checks each name against `root` (the variables a release offers). Throws
 * NotesTemplateError naming the line and column of the first problem.
 */
export function parseNotesTemplate(template: string, root: NotesShape & { kind: 'record' }): NotesTemplate {
  if (template.length > MAX_NOTES_TEMPLATE_LENGTH)
    throw new NotesTemplateError(
      `the template is ${template.length} characters long; at most ${MAX_NOTES_TEMPLATE_LENGTH} are allowed`,
      1,
      1,
    );
  const fail = (reason: string, index: number): never => {
    const { line, column } = position(template, index);
    throw new NotesTemplateError(reason, line, column);
  };
  const stack: Frame[] = [{ kind: 'root', at: 0, nodes: [] }];
  const top = () => stack[stack.length - 1];
  let text = '';
  const flush = () => {
    if (text !== '') top().nodes.push({ kind: 'text', text });
    text = '';
  };

  /** The shape a path names, from a loop variable in scope or from the root; fails on anything unknown. */
  const resolve = (path: readonly string[], at: number): NotesShape => {
    let shape: NotesShape | undefined;
    for (let i = stack.length - 1; i >= 0 && shape === undefined; i--)
      if (stack[i].kind === 'each' && stack[i].name === path[0]) shape = stack[i].item;
    if (shape === undefined) shape = root.fields.get(path[0]);
    for (let i = 1; shape !== undefined && i < path.length; i++)
      shape = shape.kind === 'record' ? shape.fields.get(path[i]) : undefined;
    if (shape === undefined) return fail(`unknown variable "${path.join('.')}"`, at);
    return shape;
  };
  const parsePath = (raw: string, at: number): string[] => {
    const parts = raw.split('.');
    if (parts.length > MAX_PATH_PARTS || !parts.every((p) => NAME.test(p)))
      return fail(
        `"${raw.slice(0, 80)}" is not a variable name (letters and digits, parts joined by ".")`,
        at,
      );
    return parts;
  };
  const open = (frame: Frame, at: number) => {
    if (stack.length > MAX_NOTES_NESTING) fail(`blocks nest at most ${MAX_NOTES_NESTING} deep`, at);
    stack.push(frame);
  };

  let i = 0;
  while (i < template.length) {
    const hash = template.indexOf('#', i);
    if (hash < 0) {
      text += template.slice(i);
      break;
    }
    text += template.slice(i, hash);
    if (template.startsWith('##{', hash)) {
      text += '#{';
      i = hash + 3;
      continue;
    }
    if (template[hash + 1] !== '{') {
      text += '#';
      i = hash + 1;
      continue;
    }
    const close = template.indexOf('}', hash + 2);
    if (close < 0 || template.slice(hash + 2, close).includes('\n'))
      fail('a tag "#{" is not closed by "}" on its line', hash);
    const body = template.slice(hash + 2, close).trim();
    let end = close + 1;
    const control = /^(each\s|if\s|else$|\/each$|\/if$)/.test(body);
    if (control) {
      // A control tag alone on its line takes the line with it, so blocks do not leave blank lines.
      const lineStart = template.lastIndexOf('\n', hash - 1) + 1;
      const lineEnd = template.indexOf('\n', end);
      const after = template.slice(end, lineEnd < 0 ? template.length : lineEnd);
      if (blank(template.slice(lineStart, hash)) && blank(after)) {
        text = text.slice(0, text.length - (hash - lineStart));
        end = lineEnd < 0 ? template.length : lineEnd + 1;
      }
    }
    flush();
    const each = /^each\s+(\S+)\s+in\s+(\S+)$/.exec(body);
    const cond = /^if\s+(\S+)$/.exec(body);
    if (each) {
      const [name] = parsePath(each[1], hash);
      if (each[1].includes('.')) fail(`a loop variable is one name, not "${each[1]}"`, hash);
      if (root.fields.has(name) || stack.some((f) => f.name === name))
        fail(`the loop variable "${name}" hides another variable of that name`, hash);
      const path = parsePath(each[2], hash);
      const shape = resolve(path, hash);
      if (shape.kind !== 'list') fail(`"${each[2]}" is not a list to repeat over`, hash);
      open(
        { kind: 'each', at: hash, nodes: [], name, path, item: (shape as { item: NotesShape }).item },
        hash,
      );
    } else if (cond) {
      const path = parsePath(cond[1], hash);
      if (resolve(path, hash).kind === 'record')
        fail(`"${cond[1]}" is a group of variables; test one of them`, hash);
      open({ kind: 'if', at: hash, nodes: [], path }, hash);
    } else if (body === 'else') {
      const frame = top();
      if (frame.kind !== 'if' || frame.then !== undefined) fail('"#{else}" outside an "#{if}" block', hash);
      frame.then = [...frame.nodes];
      frame.nodes.length = 0;
    } else if (body === '/each' || body === '/if') {
      const frame = top();
      const kind = body.slice(1);
      if (frame.kind !== kind) fail(`"#{${body}}" closes no open "#{${kind}}" block`, hash);
      stack.pop();
      const node: Node =
        frame.kind === 'each'
          ? { kind: 'each', name: frame.name!, path: frame.path!, body: frame.nodes }
          : {
              kind: 'if',
              path: frame.path!,
              then: frame.then ?? frame.nodes,
              otherwise: frame.then ? frame.nodes : [],
            };
      top().nodes.push(node);
    } else if (/^(each|if)\b/.test(body)) {
      fail(`"#{${body.slice(0, 80)}}" is not "#{each NAME in LIST}" or "#{if VARIABLE}"`, hash);
    } else {
      const path = parsePath(body, hash);
      const shape = resolve(path, hash);
      if (shape.kind !== 'text')
        fail(`"${body}" is a ${shape.kind === 'list' ? 'list' : 'group of variables'}, not text`, hash);
      top().nodes.push({ kind: 'value', path });
    }
    i = end;
  }
  flush();
  if (stack.length > 1) {
    const open = top();
    fail(`"#{${open.kind}}" is never closed by "#{/${open.kind}}"`, open.at);
  }
  return { nodes: stack[0].nodes };
}

class Cut extends Error {}

/** Whether `#{if}` takes its first branch: non-empty text other than "false", or a non-empty list. */
function truthy(value: NotesValue | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value === 'string') return value !== '' && value.toLowerCase() !== 'false';
  return Array.isArray(value) ? value.length > 0 : true;
}

/**
 * Renders a checked template over `root`. Never throws: output past MAX_NOTES_LENGTH characters, or work
 * past MAX_NOTES_STEPS, ends the text with a line saying it was cut.
 */
export function renderNotesTemplate(template: NotesTemplate, root: NotesRecord): string {
  let out = '';
  let steps = 0;
  const scopes: { name: string; value: NotesRecord }[] = [];
  const lookup = (path: readonly string[]): NotesValue | undefined => {
    let value: NotesValue | undefined;
    for (let i = scopes.length - 1; i >= 0 && value === undefined; i--)
      if (scopes[i].name === path[0]) value = scopes[i].value;
    if (value === undefined) value = root.get(path[0]);
    for (let i = 1; value !== undefined && i < path.length; i++)
      value = value instanceof Map ? value.get(path[i]) : undefined;
    return value;
  };
  const step = () => {
    if (++steps > MAX_NOTES_STEPS) throw new Cut(`the template repeated more than ${MAX_NOTES_STEPS} times`);
  };
  const write = (text: string) => {
    step();
    if (out.length + text.length > MAX_NOTES_LENGTH) {
      out += text.slice(0, MAX_NOTES_LENGTH - out.length);
      throw new Cut(`release notes are at most ${MAX_NOTES_LENGTH} characters`);
    }
    out += text;
  };
  const run = (nodes: readonly Node[]) => {
    for (const node of nodes) {
      if (node.kind === 'text') write(node.text);
      else if (node.kind === 'value') {
        const value = lookup(node.path);
        write(typeof value === 'string' ? value : '');
      } else if (node.kind === 'if') {
        // A condition writes nothing, yet 300 of them in a loop body nested 7 deep were millions of tests.
        step();
        run(truthy(lookup(node.path)) ? node.then : node.otherwise);
      } else {
        step(); // a loop over an empty list writes nothing either
        const list = lookup(node.path);
        if (!Array.isArray(list)) continue;
        for (const item of list as readonly NotesRecord[]) {
          write('');
          scopes.push({ name: node.name, value: item });
          run(node.body);
          scopes.pop();
        }
      }
    }
  };
  try {
    run(template.nodes);
    return out;
  } catch (err) {
    if (!(err instanceof Cut)) throw err;
    // Never half a surrogate pair at the cut: the ledger would store U+FFFD in its place.
    const last = out.charCodeAt(out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
    return `${out}\n… (cut: ${err.message})`;
  }
}
