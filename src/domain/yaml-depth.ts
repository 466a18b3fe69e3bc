import { CST, Lexer, Parser } from 'yaml';

/**
 * How deeply YAML a user or a repository gives us may nest collections. A manifest nests six levels and a
 * Helm values file rarely twenty; the yaml library composes documents recursively and overflowed the stack
 * somewhere near a thousand levels (`apply -f` of 100,000 `[` exited with "Maximum call stack size exceeded").
 */
export const MAX_YAML_DEPTH = 64;

/** YAML that nests collections deeper than MAX_YAML_DEPTH. */
export class YamlTooDeepError extends Error {
  readonly code = 'YAML_TOO_DEEP';
  constructor() {
    super(`the YAML nests collections deeper than ${MAX_YAML_DEPTH} levels`);
  }
}

/**
 * Throws YamlTooDeepError when the text nests maps and sequences (block or flow) deeper than MAX_YAML_DEPTH.
 * Call it before parsing: the library's syntax parser keeps its own stack (it does not recurse), and so does
 * this walk of its tokens, so neither overflows however deep the text goes.
 */
export function refuseDeepYaml(text: string): void {
  refuseDeepAtOnce(text);
  const todo: Array<[CST.Token, number]> = [];
  for (const token of new Parser().parse(text)) todo.push([token, 0]);
  while (todo.length > 0) {
    const [token, depth] = todo.pop()!;
    if (token.type === 'document') {
      if (token.value) todo.push([token.value, depth]);
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    if (depth + 1 > MAX_YAML_DEPTH) throw new YamlTooDeepError();
    for (const item of token.items as CST.CollectionItem[]) {
      if (item.key) todo.push([item.key, depth + 1]);
      if (item.value) todo.push([item.value, depth + 1]);
    }
  }
}

/**
 * Throws YamlTooDeepError as soon as the lexer's tokens show nesting past MAX_YAML_DEPTH, before any syntax
 * tree is built: flow collections (`[`, `{`) open, or block collections begun on one line (`- - - x`, `? - x`),
 * which are the two ways a short text nests deep (block nesting by indentation needs a line per level, each
 * longer than the last). A text of a million `[` then costs the tokens up to the limit, not a syntax tree of a
 * million levels (about a second of CPU for every 200,000 levels, in whichever process reads the file: a
 * deploy repository's file is read by the worker). A text that cannot nest that deep either way (too few
 * opening brackets, no line with that many indicators) is not lexed here at all.
 */
function refuseDeepAtOnce(text: string): void {
  if (!mayNestFlowDeep(text) && !mayNestOnOneLineDeep(text)) return;
  let flow = 0;
  /** Block collections begun on this line so far, while it holds nothing but their indicators. */
  let onLine = 0;
  let lineStart = true;
  let scalar = false;
  for (const lexeme of new Lexer().lex(text)) {
    // The lexer marks each scalar before its text: a `[` or `-` inside one (quoted, plain, a block scalar) is text.
    if (scalar) {
      scalar = false;
      lineStart = false;
    } else if (lexeme === CST.SCALAR) scalar = true;
    else if (lexeme === '\n' || lexeme === '\r\n') {
      onLine = 0;
      lineStart = true;
    } else if (lexeme === '-' || lexeme === '?') {
      if (lineStart && ++onLine > MAX_YAML_DEPTH) throw new YamlTooDeepError();
    } else if (lexeme === '[' || lexeme === '{') {
      lineStart = false;
      if (++flow > MAX_YAML_DEPTH) throw new YamlTooDeepError();
    } else if (lexeme === ']' || lexeme === '}') {
      lineStart = false;
      flow = Math.max(0, flow - 1);
    } else if (lexeme === CST.DOCUMENT || lexeme === CST.FLOW_END) {
      // A new document, or the end of every open flow collection that a line less indented makes.
      flow = 0;
    } else if (!/^[ \t]*$/.test(lexeme)) lineStart = false;
  }
}

/** More opening brackets than the limit: flow collections might nest past it. */
function mayNestFlowDeep(text: string): boolean {
  let opening = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 0x5b || c === 0x7b) && ++opening > MAX_YAML_DEPTH) return true;
  }
  return false;
}

/** A line that starts with more `- ` or `? ` indicators than the limit, one after another. */
function mayNestOnOneLineDeep(text: string): boolean {
  const blank = (c: number) => c === 0x20 || c === 0x09;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && blank(text.charCodeAt(i))) i++;
    let indicators = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if ((c !== 0x2d && c !== 0x3f) || !blank(text.charCodeAt(i + 1))) break;
      if (++indicators > MAX_YAML_DEPTH) return true;
      i += 2;
      while (i < text.length && blank(text.charCodeAt(i))) i++;
    }
    const end = text.indexOf('\n', i);
    if (end < 0) break;
    i = end + 1;
  }
  return false;
}
