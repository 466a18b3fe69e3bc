import { Composer, CST, Document, Lexer, Parser, YAMLError, YAMLParseError } from 'yaml';

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
 * Throws YamlTooDeepError when the text nests maps and sequences (block or flow) deeper than MAX_YAML_DEPTH,
 * counted on the syntax tree: a `key: value` pair inside a flow sequence becomes a map of its own in the parsed
 * document, so such text may parse up to twice as deep (128 levels, far from any stack's end).
 * Call it before parsing: the library's syntax parser keeps its own stack (it does not recurse), and so does
 * this walk of its tokens, so neither overflows however deep the text goes.
 *
 * The syntax tree is built token by token here, watching the parser's stack of open collections: a text that
 * nests past the limit is refused as soon as it gets there, not after a tree of all its levels (a 1 MiB deploy
 * file of `[`, or of `- ` on one line, cost a second or more that way, and the parser's work per line grows
 * with the depth it is at: a deep file with many lines after its deep part took minutes). The walk of the
 * finished tree then gives the exact answer for the rest: a collection can be counted on the stack one level
 * short (a flow collection that turns out to be a block map's key once its `:` comes).
 *
 * Answers the syntax tree's tokens, for composeYaml: a text checked here is not parsed again.
 */
export function refuseDeepYaml(text: string): CST.Token[] {
  const tokens: CST.Token[] = [];
  const todo: Array<[CST.Token, number]> = [];
  const parser = new Parser();
  const check = () => {
    if (parser.stack.length > MAX_YAML_DEPTH && openCollections(parser.stack) > MAX_YAML_DEPTH)
      throw new YamlTooDeepError();
  };
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    check();
  }
  for (const token of parser.end()) tokens.push(token);
  for (const token of tokens) todo.push([token, 0]);
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
  return tokens;
}

/** Collections among the tokens the parser has open. */
function openCollections(stack: readonly CST.Token[]): number {
  let n = 0;
  for (const token of stack)
    if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') n++;
  return n;
}

/**
 * The document of a text from its syntax tree's tokens (refuseDeepYaml's), as the library's `parseDocument`
 * makes it, but without its pretty errors: those copy and scan the source's line once per error, and a line of
 * many errors (65,536 `]`) took seconds, 1 MiB of them minutes (yamlErrorAt places an error instead). The
 * tokens are only read: one text's tokens may be composed more than once.
 */
export function composeYaml(tokens: readonly CST.Token[], text: string): Document.Parsed {
  let doc: Document.Parsed | null = null;
  for (const next of new Composer({ prettyErrors: false }).compose(tokens, true, text.length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(
        new YAMLParseError(
          [next.range[0], next.range[1]],
          'MULTIPLE_DOCS',
          'Source contains multiple documents; please use YAML.parseAllDocuments()',
        ),
      );
      break;
    }
  }
  // The composer always ends with a document (an empty text's too).
  return doc!;
}

/**
 * YAML text to plain data, as the library's `parse` gives it: nesting past MAX_YAML_DEPTH refused
 * (YamlTooDeepError), else the first error thrown, placed by line and column.
 */
export function parseYamlText(text: string): unknown {
  const doc = composeYaml(refuseDeepYaml(text), text);
  if (doc.errors.length > 0) throw new Error(yamlErrorAt(text, doc.errors[0]));
  return doc.toJS();
}

/** A YAML error's message, placed: `message at line L, column C` (from 1), from its offset in the text. */
export function yamlErrorAt(text: string, error: YAMLError): string {
  const offset = error.pos[0];
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${error.message.split('\n')[0]} at line ${line}, column ${offset - start + 1}`;
}
