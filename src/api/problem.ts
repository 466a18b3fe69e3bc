import type { Response } from 'express';
import { z } from 'zod';

/** One offending field of a request. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** Sends an RFC 9457 problem document. */
export function sendProblem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  errors?: FieldError[],
): void {
  // For whatever records the answer's reason after it is sent (a receiver's last notifications).
  res.locals.problemDetail = detail;
  res
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', title, status, detail, ...(errors ? { errors } : {}) }));
}

/** Field errors from zod, with dotted paths such as `packages.0.feed`. */
export function fieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((issue) => {
    const at = (extra: string[]) =>
      [prefix, ...issue.path.map(String), ...extra].filter((s) => s !== '').join('.') || '(body)';
    // An unknown key is the field to name, not its parent object.
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ field: at([key]), message: 'unknown field' }));
    return [{ field: at([]), message: issue.message }];
  });
}

/** An error the routes throw to answer with a problem document. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

/** Parses with a schema, or throws a 400 listing every bad field (the detail names the first, and how many more). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error, prefix);
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new HttpProblem(400, 'Invalid request', `${errors[0].field}: ${errors[0].message}${more}`, errors);
}

/**
 * Parses the body of a resource named by its path (`PUT /freezes/:name`): the body may leave `name` out, and a
 * name it gives must be the path's, or a 400 names the field.
 */
export function parseNamedOr400<S extends z.ZodType<{ name: string }>>(
  schema: S,
  name: string,
  body: unknown,
): z.infer<S> {
  const named = body && typeof body === 'object' && !Array.isArray(body) ? { name, ...body } : body;
  const spec = parseOr400(schema, named);
  if (spec.name !== name) {
    const message = `"${spec.name}" does not match the path (${name})`;
    throw new HttpProblem(400, 'Invalid request', `name: ${message}`, [{ field: 'name', message }]);
  }
  return spec;
}
