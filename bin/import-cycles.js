#!/usr/bin/env node
// Fails when the project's own modules import each other in a circle. Every static import counts,
// `import type` too: a circle of types is still two rooms that cannot be understood one without the other.
// Dynamic `import()` does not count (it loads lazily, at a call, not when the module loads).
// Written on the TypeScript compiler the project already has: the plugins that do this (import-x/no-cycle,
// madge, dependency-cruiser) bring a resolver and dozens of packages for what is a few dozen lines here.
// Usage: node bin/import-cycles.js [root] (default: the repository). Exit 1 and one line per circle if any.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const ROOMS = ['src', 'workflows', 'activities', 'scripts', 'test'];

/** Every .ts file under the rooms of `root`. */
function sourceFiles(root) {
  const out = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'fixtures') walk(full);
      } else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
    }
  };
  for (const room of ROOMS) walk(path.join(root, room));
  return out;
}

/** The relative module specifiers a file imports or re-exports statically. */
function specifiers(file) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out = [];
  for (const statement of source.statements) {
    if (
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
      statement.moduleSpecifier &&
      ts.isStringLiteral(statement.moduleSpecifier)
    )
      out.push(statement.moduleSpecifier.text);
    else if (
      ts.isImportEqualsDeclaration(statement) &&
      ts.isExternalModuleReference(statement.moduleReference) &&
      ts.isStringLiteral(statement.moduleReference.expression)
    )
      out.push(statement.moduleReference.expression.text);
  }
  return out.filter((s) => s.startsWith('./') || s.startsWith('../'));
}

/** The file a relative specifier names (TypeScript's node resolution: file.ts, then dir/index.ts). */
function resolve(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, `${base}.mts`, `${base}.cts`, path.join(base, 'index.ts')])
    if (fs.existsSync(candidate)) return candidate;
  return null;
}

/** Each circle as the list of files in it (Tarjan's strongly connected components of size > 1, or a self-import). */
function findCycles(root) {
  const files = sourceFiles(root);
  const edges = new Map(
    files.map((f) => [
      f,
      [
        ...new Set(
          specifiers(f)
            .map((s) => resolve(f, s))
            .filter(Boolean),
        ),
      ],
    ]),
  );
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const connect = (v) => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indexOf.get(w)));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v))
        cycles.push(component.map((f) => path.relative(root, f)).sort());
    }
  };
  for (const f of files) if (!indexOf.has(f)) connect(f);
  return { files: files.length, cycles };
}

module.exports = { findCycles };

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
  const { files, cycles } = findCycles(root);
  for (const cycle of cycles) process.stdout.write(`import circle: ${cycle.join(' <-> ')}\n`);
  process.stdout.write(`${files} modules, ${cycles.length} import circle(s)\n`);
  process.exit(cycles.length > 0 ? 1 : 0);
}
