/**
 * Named secrets are bound to where they may be sent: each lists URL prefixes (`https://ci.example.com/hooks/`),
 * and a destination may use a secret only toward a URL under one of them. Checked when a project is saved
 * (the API knows the bindings, never the values) and again by the worker right before sending.
 */
export interface NamedSecret {
  readonly value: string;
  /** URL prefixes the secret may be sent to. */
  readonly sendTo: readonly string[];
}

/** Secret names with their bindings, without values: what the API needs to check a project. */
export type SecretBindings = ReadonlyMap<string, readonly string[]>;

/**
 * A percent-encoded `/`, `\\` or `.`, however many times encoded (`%2F`, `%2e`, `%5c`, `%252f`, …): a server or
 * proxy may decode it into a separator or a dot segment, so `/octopus/..%2fsteal` would be read as `/steal`.
 */
const ENCODED_SEPARATOR = /%(?:25)*(?:2f|5c|2e)/i;

/** Why a URL's path is ambiguous to the server that reads it, or null when it is not. */
export function ambiguousPath(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (ENCODED_SEPARATOR.test(u.pathname))
    return 'its path holds an encoded slash, backslash or dot (%2F, %5C, %2E, or encoded again as %252F), which the server may decode into another path';
  if (u.pathname.includes('\\')) return 'its path holds a backslash, which the server may read as a slash';
  return decodedPath(u.pathname) === null
    ? 'its path holds a dot segment (`..;`) or a control character once decoded'
    : null;
}

/**
 * The path as the server reads it: percent-decoded (a few times, as chained proxies may) and split into
 * segments; null when a segment would then be `.`, `..` (or `..;`, which Tomcat reads as `..`), holds a
 * control character or a backslash, or the encoding is malformed.
 */
function decodedPath(pathname: string): string | null {
  if (ENCODED_SEPARATOR.test(pathname)) return null;
  let path = pathname;
  for (let i = 0; i < 3 && path.includes('%'); i++) {
    // Leniently, as many servers and proxies decode: every valid escape, a stray `%` kept as it is. A strict
    // decodeURIComponent stopped at the first stray `%` (`/%zz`) and so never saw `%25%32%66` (`%2f` once
    // decoded, `/` twice) beside it. Bytes as latin1: a URL's pathname is ASCII, and only ASCII matters here.
    path = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (ENCODED_SEPARATOR.test(path)) return null;
  }
  const bad = (segment: string) =>
    segment === '.' ||
    segment === '..' ||
    /^\.\.?;/.test(segment) ||
    [...segment].some((c) => c < ' ' || c === '\x7f' || c === '\\');
  return path.split('/').some(bad) ? null : path;
}

/**
 * Whether `url` lies under the prefix: same scheme and host, and the path, decoded as the server reads it,
 * at or below the prefix's. A path a server could read as another one (encoded slashes or dots) is never
 * under any prefix.
 */
export function underPrefix(prefix: string, url: string): boolean {
  let p: URL;
  let u: URL;
  try {
    p = new URL(prefix);
    u = new URL(url);
  } catch {
    return false;
  }
  if (p.protocol !== u.protocol || p.host !== u.host) return false;
  // An ssh:// URL names its login user (not a secret); the prefix must name the same one.
  if (u.protocol === 'ssh:' ? u.username !== p.username : u.username !== '') return false;
  if (u.password !== '') return false;
  const path = decodedPath(u.pathname);
  const bound = decodedPath(p.pathname);
  if (path === null || bound === null) return false;
  const base = bound.endsWith('/') ? bound : `${bound}/`;
  return path === bound || path.startsWith(base);
}

/**
 * The reason a secret may not go to `url`, or null when it may. The text is the same whether the name is
 * unknown or bound elsewhere, so a caller cannot probe which secrets exist.
 */
export function secretRefusal(name: string, url: string, bindings: SecretBindings): string | null {
  let where = '(invalid URL)';
  try {
    const u = new URL(url);
    where = `${u.origin}${u.pathname}`;
  } catch {
    // keep the placeholder
  }
  const ambiguous = ambiguousPath(url);
  if (ambiguous !== null) return `secret "${name}" may not be sent to ${where}: ${ambiguous}`;
  const sendTo = bindings.get(name) ?? [];
  if (sendTo.some((prefix) => underPrefix(prefix, url))) return null;
  return `secret "${name}" may not be sent to ${where}: the worker configuration must bind it there (secrets.${name}.sendTo)`;
}

/** The bindings of configured secrets, without their values. */
export function bindingsOf(secrets: ReadonlyMap<string, NamedSecret>): SecretBindings {
  return new Map([...secrets].map(([name, s]) => [name, s.sendTo]));
}
