/** One challenge from a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+.^_`|~/-]/;

/**
 * Parses a `WWW-Authenticate` header that may hold several challenges (RFC 9110 §11.6.1), e.g.
 * `Bearer realm="https://auth",service="reg", Basic realm="reg"`. Parameter names are lower-cased.
 */
export function parseWwwAuthenticate(header: string | null): AuthChallenge[] {
  if (!header) return [];
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i])) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && TOKEN_CHAR.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === '') break;
    skip(/[ \t]/);
    const current = challenges[challenges.length - 1];
    if (header[i] === '=' && header[i + 1] !== '=' && current) {
      i++;
      skip(/[ \t]/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i++];
        }
        i++;
      } else {
        value = token();
      }
      current.params[name.toLowerCase()] = value;
    } else {
      skip(/=/); // token68 padding, as in `Negotiate abc==`
      challenges.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return challenges;
}
