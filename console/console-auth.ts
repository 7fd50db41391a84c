/**
 * Who may use the console: every request carries the token, as `Authorization: Bearer <token>` (scripts, curl)
 * or through a session a login made (browsers): the login page takes the token once and sets an HttpOnly,
 * SameSite=Strict cookie holding a random session id, never the token. A change (POST) also needs the CSRF
 * token of its session (`x-csrf-token`), which the pages carry and a script reads from `GET /api/session`:
 * a page of another site can neither read it nor send the cookie along (SameSite=Strict).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const sessionCookie = 'orderly_console_session';

/** A session lives this long after its login. */
const sessionLifetimeMs = 12 * 3_600_000;
const maxSessions = 1_000;

export interface Principal {
  kind: 'bearer' | 'session';
  /** The name given at login (or in `x-orderly-operator`), for the audit trail. */
  operator: string;
  csrfToken: string;
  sessionId?: string;
}

interface Session {
  operator: string;
  csrfToken: string;
  expiresAt: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** An operator name fit for a log line and a page: printable, at most 64 characters. */
export function operatorName(given: unknown, fallback: string): string {
  const name = typeof given === 'string' ? given.replace(/[^\p{L}\p{N} ._@-]/gu, '').trim().slice(0, 64) : '';
  return name || fallback;
}

export class ConsoleAuth {
  private readonly tokenDigest: Buffer;
  private readonly sessions = new Map<string, Session>();
  /** Bearer requests have no session: they share this CSRF token, read from `GET /api/session`. */
  private readonly bearerCsrf = randomBytes(24).toString('base64url');

  constructor(token: string) {
    this.tokenDigest = digest(token);
  }

  tokenMatches(given: unknown): boolean {
    return typeof given === 'string' && given.length > 0 && timingSafeEqual(digest(given), this.tokenDigest);
  }

  /** A new session for a correct token; undefined otherwise. */
  login(token: unknown, operator: unknown): { sessionId: string; session: Session } | undefined {
    if (!this.tokenMatches(token)) return undefined;
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    if (this.sessions.size >= maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const sessionId = randomBytes(32).toString('base64url');
    const session = { operator: operatorName(operator, 'operator'), csrfToken: randomBytes(24).toString('base64url'), expiresAt: now + sessionLifetimeMs };
    this.sessions.set(sessionId, session);
    return { sessionId, session };
  }

  logout(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(sessionId);
  }

  /** The principal of a request, from its bearer token or its session cookie; undefined: 401. */
  authenticate(authorization: string | undefined, cookie: string | undefined, operatorHeader: unknown): Principal | undefined {
    const bearer = authorization === undefined ? null : /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
    if (bearer) return this.tokenMatches(bearer[1]) ? { kind: 'bearer', operator: operatorName(operatorHeader, 'api'), csrfToken: this.bearerCsrf } : undefined;
    if (!cookie) return undefined;
    const session = this.sessions.get(cookie);
    if (!session) return undefined;
    if (session.expiresAt <= Date.now()) {
      this.sessions.delete(cookie);
      return undefined;
    }
    return { kind: 'session', operator: session.operator, csrfToken: session.csrfToken, sessionId: cookie };
  }

  csrfMatches(principal: Principal, given: unknown): boolean {
    return typeof given === 'string' && given.length > 0 && timingSafeEqual(digest(given), digest(principal.csrfToken));
  }
}
