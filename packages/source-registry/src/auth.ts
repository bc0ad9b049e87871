// WWW-Authenticate challenge parsing and the Bearer token cache.
export interface AuthChallenge {
  /** The scheme as sent (`Bearer`, `Basic`, ...); compare case-insensitively. */
  scheme: string;
  /** auth-params with lower-cased names (`realm`, `service`, `scope`, `error`, ...). */
  params: Record<string, string>;
  /** A token68 value, when the challenge carries one instead of params. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /[A-Za-z0-9\-._~+/]/;

/**
 * Parses a WWW-Authenticate header value (RFC 9110 §11.6.1): one or more challenges, each a scheme
 * followed by comma-separated auth-params (token or quoted-string values) or a token68.
 * Malformed trailing parts are dropped rather than guessed at.
 */
export function parseAuthChallenge(headerValue: string): AuthChallenge[] {
  const s = headerValue ?? '';
  const out: AuthChallenge[] = [];
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const quoted = (): string | undefined => {
    if (s[i] !== '"') return undefined;
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    if (s[i] !== '"') return undefined;
    i++;
    return v;
  };

  while (i < s.length) {
    // Skip empty list elements.
    while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= s.length) break;
    const scheme = token();
    if (!scheme) break;
    const challenge: AuthChallenge = { scheme, params: {} };
    out.push(challenge);
    ws();
    // token68?
    {
      const save = i;
      let t = '';
      while (i < s.length && TOKEN68.test(s[i]!)) t += s[i++];
      let eq = '';
      while (i < s.length && s[i] === '=') eq += s[i++];
      ws();
      const atEnd = i >= s.length || s[i] === ',';
      if (t && atEnd) {
        challenge.token68 = t + eq;
        continue;
      }
      i = save;
    }
    // auth-params
    for (;;) {
      ws();
      const save = i;
      const name = token();
      ws();
      if (!name || s[i] !== '=') {
        i = save;
        break;
      }
      i++; // '='
      ws();
      let value: string | undefined;
      if (s[i] === '"') value = quoted();
      else {
        // RFC values are tokens; be lenient with unquoted URLs (`realm=https://…`): up to , or space.
        const start = i;
        while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
        value = s.slice(start, i);
      }
      if (value === undefined) {
        i = s.length;
        break;
      }
      challenge.params[name.toLowerCase()] = value;
      ws();
      if (s[i] === ',') {
        i++;
        // A comma may separate params or end this challenge: the loop head decides by lookahead.
        ws();
        const look = i;
        token();
        ws();
        const isParam = s[i] === '=';
        i = look;
        if (!isParam) break;
        continue;
      }
      break;
    }
  }
  return out;
}

/** The first challenge with the given scheme (case-insensitive). */
export function findChallenge(challenges: AuthChallenge[], scheme: string): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme.toLowerCase() === scheme.toLowerCase());
}

export interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens keyed by realm, service and the sorted scope set. */
export class TokenCache {
  private readonly map = new Map<string, CachedToken>();

  static key(realm: string, service: string | undefined, scopes: readonly string[]): string {
    return `${realm}\n${service ?? ''}\n${[...new Set(scopes)].sort().join(' ')}`;
  }

  get(key: string, now = Date.now()): string | undefined {
    const t = this.map.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: string, expiresInSeconds: number, now = Date.now()): void {
    // Renew a little early; never cache for less than a few seconds or more than a day.
    const life = Math.min(86_400, Math.max(5, expiresInSeconds - Math.min(30, expiresInSeconds / 10)));
    // A client shared by a whole run asks for one scope set per repository: expired tokens of repositories
    // done with are dropped as the cache grows, not kept until the run ends.
    if (this.map.size >= TokenCache.SWEEP_AT) {
      for (const [k, t] of this.map) if (t.expiresAt <= now) this.map.delete(k);
    }
    this.map.set(key, { token, expiresAt: now + life * 1000 });
  }

  /** Size from which set() drops expired tokens first. */
  static readonly SWEEP_AT = 64;

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}
