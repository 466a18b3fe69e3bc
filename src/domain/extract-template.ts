/**
 * A rule's extract template (`$1`, `${major}`): references to the filter regex's groups. Apart from rule.ts
 * so the rule's schema can check a template without importing the rule it validates.
 */
import { compileUserRegex, UserRegex } from './user-regex';

/** `$1`, `$name` or `${name}` in an extract template. */
export const TEMPLATE_REF = /\$(?:\{(\w+)\}|(\w+))/g;

/** The groups an extract template names that the filter regex does not have. */
export function missingGroups(filter: string, extract: string): string[] {
  let re: UserRegex;
  try {
    re = compileUserRegex(filter, 'filter regex');
  } catch {
    return []; // the filter's own error is reported on the filter field
  }
  const named = new Set(re.groupNames);
  const missing: string[] = [];
  for (const m of extract.matchAll(TEMPLATE_REF)) {
    const name = m[1] ?? m[2];
    const ok = /^\d+$/.test(name) ? Number(name) <= re.groupCount : named.has(name);
    if (!ok) missing.push(name);
  }
  return missing;
}
