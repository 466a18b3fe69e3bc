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

/** Whether `url` lies under the prefix: same scheme and host, and the path at or below the prefix's. */
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
  const base = p.pathname.endsWith('/') ? p.pathname : `${p.pathname}/`;
  return u.pathname === p.pathname || u.pathname.startsWith(base);
}

/**
 * The reason a secret may not go to `url`, or null when it may. The text is the same whether the name is
 * unknown or bound elsewhere, so a caller cannot probe which secrets exist.
 */
export function secretRefusal(name: string, url: string, bindings: SecretBindings): string | null {
  const sendTo = bindings.get(name) ?? [];
  if (sendTo.some((prefix) => underPrefix(prefix, url))) return null;
  let where = '(invalid URL)';
  try {
    const u = new URL(url);
    where = `${u.origin}${u.pathname}`;
  } catch {
    // keep the placeholder
  }
  return `secret "${name}" may not be sent to ${where}: the worker configuration must bind it there (secrets.${name}.sendTo)`;
}

/** The bindings of configured secrets, without their values. */
export function bindingsOf(secrets: ReadonlyMap<string, NamedSecret>): SecretBindings {
  return new Map([...secrets].map(([name, s]) => [name, s.sendTo]));
}
