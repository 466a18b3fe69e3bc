import { createServer } from 'node:net';

/** A port the service will listen on, with what it serves and the environment variable that moves it. */
export interface PortClaim {
  readonly port: number;
  readonly host: string;
  /** `the API`, `the Temporal Web UI`: what a person reading the error knows it as. */
  readonly purpose: string;
  readonly variable: string;
}

/** One or more ports the service needs cannot be bound: said on one line, before anything started. */
export class PortUnavailableError extends Error {
  readonly code = 'PORT_UNAVAILABLE';
  constructor(readonly refused: ReadonlyArray<{ readonly claim: PortClaim; readonly reason: string }>) {
    super(describeRefusals(refused));
  }
}

function describeRefusals(refused: PortUnavailableError['refused']): string {
  if (refused.length === 1) {
    const [{ claim, reason }] = refused;
    return `port ${claim.port} on ${claim.host} for ${claim.purpose} is ${reason}: set ${claim.variable} to another port`;
  }
  const each = refused.map(
    ({ claim, reason }) =>
      `${claim.port} on ${claim.host} for ${claim.purpose} (${claim.variable}) is ${reason}`,
  );
  return `${refused.length} ports cannot be used, set their variables to other ports: ${each.join('; ')}`;
}

/** Why a listen failed, in words: `in use by another process`, `not allowed (EACCES)`. */
export function bindRefusal(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE') return 'in use by another process';
  if (code === 'EACCES') return 'not allowed to this user (EACCES)';
  if (code === 'EADDRNOTAVAIL') return 'not on an address of this machine (EADDRNOTAVAIL)';
  return `not available (${typeof code === 'string' ? code : (err as Error).message})`;
}

function tryBind(claim: PortClaim): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err) => resolve(bindRefusal(err)));
    probe.listen({ port: claim.port, host: claim.host, exclusive: true }, () =>
      probe.close(() => resolve(null)),
    );
  });
}

/**
 * Binds and releases every claimed port (0 means any free port, not checked) and throws one
 * PortUnavailableError naming all that are taken, so the service refuses to start before it has
 * started anything that would then be left running.
 */
export async function checkPortsFree(claims: readonly PortClaim[]): Promise<void> {
  const refused: Array<{ claim: PortClaim; reason: string }> = [];
  for (const claim of claims) {
    if (claim.port === 0) continue;
    const reason = await tryBind(claim);
    if (reason) refused.push({ claim, reason });
  }
  if (refused.length > 0) throw new PortUnavailableError(refused);
}

/** A port free on `host` now: for ports configured as 0 (any) that must be named to a child process. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
