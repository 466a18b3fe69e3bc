import { z } from 'zod';
import { Problem, RouteAccess } from './route';
import { ROUTES } from './routes';

/*
 * The API's OpenAPI 3.1 description, assembled from the route table (src/api/routes.ts). Requests are
 * described by the zod schemas the routes validate with and responses by the schemas each route declares,
 * as zod's own JSON Schema output (draft 2020-12: OpenAPI 3.1's dialect); a test checks those schemas
 * against real answers and against every example the routes give.
 */

/** `/triggers/:project/:name` → `/triggers/{project}/{name}`. */
const openApiPath = (path: string) => path.replace(/:([a-z]+)/gi, '{$1}');

/** A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect, so the `$schema` line is left out). */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** Path or query parameters from an object schema, one per key. */
function parameters(where: 'path' | 'query', schema: z.ZodType | undefined): unknown[] {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

const SECURITY: Record<RouteAccess, unknown[] | undefined> = {
  public: [],
  sender: [{ senderToken: [] }, {}],
  viewer: [{ bearer: [] }],
  operator: [{ bearer: [] }],
  admin: [{ bearer: [] }],
};

/** The OpenAPI 3.1 document, built once per process. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(route.responses))
      responses[status] = {
        description: r.description,
        ...(r.schema || r.mediaType
          ? {
              content: {
                [r.mediaType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json')]: {
                  ...(r.schema ? { schema: jsonSchema(r.schema) } : {}),
                  ...(r.example !== undefined ? { example: r.example } : {}),
                },
              },
            }
          : {}),
      };
    if (route.access !== 'public' && route.access !== 'sender') {
      responses['401'] ??= {
        description: 'No valid token',
        content: { 'application/problem+json': { schema: jsonSchema(Problem) } },
      };
      responses['403'] ??= {
        description: `The token's role is below ${route.access}`,
        content: { 'application/problem+json': { schema: jsonSchema(Problem) } },
      };
    }
    paths[openApiPath(route.path)] ??= {};
    paths[openApiPath(route.path)][route.method.toLowerCase()] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[/:-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      'x-feed-triggers-role': route.access,
      security: SECURITY[route.access],
      parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: jsonSchema(route.body),
                  ...(route.bodyExample !== undefined ? { example: route.bodyExample } : {}),
                },
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'feed-triggers',
      version: '0.1.0',
      description:
        'Pull-based continuous delivery: triggers watch registries and chart repositories and create releases. ' +
        'Every call but health, metrics, this description and registry notifications needs ' +
        '`Authorization: Bearer <token>`; `x-feed-triggers-role` names the least role a route needs ' +
        '(viewer < operator < admin).',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (feed-triggers token create)' },
        senderToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The webhook token of the configuration (webhookToken), when one is set',
        },
      },
    },
  };
}
