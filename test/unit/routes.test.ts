import { z } from 'zod';
import { ROUTES } from '../../src/api/routes';

const named = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

describe('the route table', () => {
  test('declares each method and path once', () => {
    const all = ROUTES.map(named);
    expect(all.filter((r, i) => all.indexOf(r) !== i)).toEqual([]);
    expect(all.length).toBeGreaterThan(40);
  });

  test("documents each route's path parameters, and no others", () => {
    const mismatched = ROUTES.flatMap((route) => {
      const inPath = route.path
        .split('/')
        .filter((s) => s.startsWith(':'))
        .map((s) => s.slice(1))
        .sort();
      const shape = (route.params as z.ZodObject | undefined)?.shape ?? {};
      const documented = Object.keys(shape).sort();
      return JSON.stringify(inPath) === JSON.stringify(documented)
        ? []
        : [`${named(route)}: path ${inPath.join(',')}, documented ${documented.join(',')}`];
    });
    expect(mismatched).toEqual([]);
  });

  test('every example validates against the schema beside it', () => {
    const broken: string[] = [];
    for (const route of ROUTES) {
      if (route.body && route.bodyExample !== undefined) {
        const parsed = route.body.safeParse(route.bodyExample);
        if (!parsed.success) broken.push(`${named(route)} body: ${parsed.error.message}`);
      }
      for (const [status, response] of Object.entries(route.responses)) {
        if (!response.schema) continue;
        const parsed = response.schema.safeParse(response.example);
        if (response.example === undefined || !parsed.success)
          broken.push(`${named(route)} ${status}: ${parsed.success ? 'no example' : parsed.error.message}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
