import { Request, Response } from 'express';
import { z } from 'zod';
import type { CONSOLE_ROUTES } from './console-docs';
import { Handlers } from './route';
import { AccessStore } from '../db/access';
import { sameSecret, SessionStore } from '../db/sessions';
import { parseOr400, sendProblem } from './problem';

/** The console's cookie: HttpOnly, so no script (ours or an injected one) can read the session id. */
export const SESSION_COOKIE = 'ft_session';

/** The header a cookie-authenticated write echoes the session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** The session id a request's cookie carries, if any. */
export function sessionCookie(req: Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === SESSION_COOKIE) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * Why a cookie-authenticated write is refused as possibly cross-site, or null: it must come from this
 * origin (browsers send Origin on every non-GET fetch) and echo the session's CSRF token, which only a page
 * of this origin can read (GET /session; no CORS is granted).
 */
export function csrfRefusal(req: Request, tokenMatches: (given: string) => boolean): string | null {
  const origin = req.get('origin');
  if (!origin || origin !== `${req.protocol}://${req.get('host') ?? ''}`)
    return 'a console write must come from the console itself (the Origin header does not match this server)';
  const given = req.get(CSRF_HEADER);
  if (!given || !tokenMatches(given))
    return `a console write must echo the session's CSRF token in the ${CSRF_HEADER} header`;
  return null;
}

const SignInBody = z.strictObject({ token: z.string().min(1).max(200) });

/** Where the console links operators to: the Temporal Web UI and the namespace of the workflows. */
export interface TemporalUi {
  readonly url: string;
  readonly namespace: string;
}

/** The session as the console sees it: who, which role, the CSRF token to echo, until when. */
function sessionAnswer(
  session: { principal: { name: string; role: string }; csrf: string; expiresAt: Date },
  temporalUi: TemporalUi | null,
) {
  return {
    name: session.principal.name,
    role: session.principal.role,
    csrf: session.csrf,
    expiresAt: session.expiresAt.toISOString(),
    temporalUi,
  };
}

/** `POST /session` (sign in with a token), `GET /session` (who is signed in), `DELETE /session` (sign out). */
export function sessionHandlers(
  sessions: SessionStore,
  access: AccessStore,
  log: (m: string) => void,
  temporalUi: TemporalUi | null = null,
): Pick<Handlers<typeof CONSOLE_ROUTES>, 'signIn' | 'currentSession' | 'signOut'> {
  const audit = (
    req: Request,
    actor: { name: string; role: 'viewer' | 'operator' | 'admin' },
    status: number,
  ) =>
    access
      .recordAudit({
        actor: actor.name,
        role: actor.role,
        method: req.method,
        route: '/session',
        path: req.path,
        status,
        outcome: 'succeeded',
        detail: req.method === 'POST' ? 'console sign-in' : 'console sign-out',
      })
      .catch((err: Error) => log(`audit log: cannot record ${req.method} /session: ${err.message}`));

  const signIn = async (req: Request, res: Response) => {
    const { token } = parseOr400(SignInBody, req.body ?? {});
    const session = await sessions.open(token);
    res.set('Cache-Control', 'no-store');
    if (!session)
      return sendProblem(res, 401, 'Unauthorized', 'the token is not valid (unknown, revoked or expired)');
    res.cookie(SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/',
      expires: session.expiresAt,
    });
    void audit(req, session.principal, 201);
    res.status(201).json(sessionAnswer(session, temporalUi));
  };

  const currentSession = async (req: Request, res: Response) => {
    const id = sessionCookie(req);
    const session = id ? await sessions.find(id) : null;
    res.set('Cache-Control', 'no-store');
    // No session is no resource (not a refusal: the route is public and answers anyone).
    if (!session) return sendProblem(res, 404, 'Not found', 'not signed in: no console session');
    res.json(sessionAnswer(session, temporalUi));
  };

  const signOut = async (req: Request, res: Response) => {
    const id = sessionCookie(req);
    const session = id ? await sessions.find(id) : null;
    res.set('Cache-Control', 'no-store');
    if (session) {
      const refusal = csrfRefusal(req, (given) => sameSecret(given, session.csrf));
      if (refusal) return sendProblem(res, 403, 'Forbidden', refusal);
      await sessions.close(id!);
      void audit(req, session.principal, 200);
    }
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    res.json({ signedOut: session !== null });
  };
  return { signIn, currentSession, signOut };
}
