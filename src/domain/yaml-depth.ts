import { CST, Parser } from 'yaml';

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
