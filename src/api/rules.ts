import { RequestHandler } from 'express';
import { z } from 'zod';
import { CpuPool, PoolBusyError, PoolTimeoutError, sharedCpuPool } from '../runtime/cpu-pool';
import { compileRule, evaluateRule, toPreview, VersionRuleInput } from '../domain/rule';
import { VersionRuleSchema } from '../domain/rule-schema';
import { PRECEDENCES, Precedence } from '../domain/version';
import { HttpProblem, parseOr400 } from './problem';
import { defineRoutes, Handlers, invalid } from './route';

/** Up to 100,000 tags of at most 1,024 characters: generous for real repositories, bounded for the API. */
export const PreviewRequestSchema = z
  .object({
    rule: VersionRuleSchema.optional(),
    tags: z.array(z.string().max(1024)).max(100_000),
    /** How labels compare: `docker` (OCI feeds, the default) or `semver` (Helm charts). */
    precedence: z.enum(PRECEDENCES as [Precedence, ...Precedence[]]).default('docker'),
  })
  .strict();

/**
 * Previews estimated at up to this much work run on the event loop (a few milliseconds); larger ones in the
 * CPU pool, so one caller's 100,000 tags never keep /healthz or another caller waiting.
 */
export const INLINE_PREVIEW_WORK = 200_000;

/**
 * A preview's work, roughly: every character of every tag, once per regex that reads it and once per group
 * reference an extract template copies it into.
 */
export function previewWork(rule: VersionRuleInput, tags: readonly string[]): number {
  const regexes = 2 + (rule.filter ? 1 : 0) + (rule.tag ? 1 : 0) + (rule.exclude?.length ?? 0);
  const copies = rule.extract ? rule.extract.split('$').length - 1 : 0;
  // Every tag costs its parse, its verdict and its line in the answer whatever its length: 100,000 empty tags
  // counted as no work and ran on the event loop (about 250 ms each call).
  let characters = 0;
  for (const tag of tags) characters += tag.length + PER_TAG_WORK;
  return characters * (1 + regexes + copies);
}

/** A tag's work beside its characters, counted as this many characters. */
export const PER_TAG_WORK = 32;

const Preview = z.object({
  selected: z.string().nullable(),
  accepted: z.array(z.string()),
  rejected: z.array(z.object({ tag: z.string(), reason: z.string() })),
});

export const RULE_ROUTES = defineRoutes({
  previewRule: {
    method: 'POST',
    path: '/rules/preview',
    access: 'viewer',
    summary: 'Which tags a version rule accepts and why the others are rejected (no feed is read)',
    tag: 'rules',
    body: PreviewRequestSchema,
    bodyExample: { rule: { range: '[1.0,2.0)', tag: '^$' }, tags: ['1.0.0', '1.2.0', '2.0.0', '1.3.0-rc.1'] },
    responses: {
      200: {
        description: 'The selected tag, the accepted ones best first, and the rejected ones with reasons',
        schema: Preview,
        example: {
          selected: '1.2.0',
          accepted: ['1.2.0', '1.0.0'],
          rejected: [
            { tag: '2.0.0', reason: 'out of range' },
            { tag: '1.3.0-rc.1', reason: 'pre-release tag does not match' },
          ],
        },
      },
      400: invalid,
    },
  },
});

/** `POST /rules/preview`: Octopus's "Design rule" for a tag list, without touching any feed. */
export function ruleHandlers(
  options: { readonly pool?: CpuPool; readonly inlineWork?: number } = {},
): Handlers<typeof RULE_ROUTES> {
  const previewRule: RequestHandler = async (req, res) => {
    const { rule = {}, tags, precedence } = parseOr400(PreviewRequestSchema, req.body);
    if (previewWork(rule, tags) <= (options.inlineWork ?? INLINE_PREVIEW_WORK))
      return void res.json(toPreview(evaluateRule(compileRule(rule, precedence), tags)));
    let text: string;
    try {
      text = await (options.pool ?? sharedCpuPool('api')).run('rulePreview', { rule, precedence, tags });
    } catch (err) {
      if (!(err instanceof PoolBusyError || err instanceof PoolTimeoutError)) throw err;
      res.set('retry-after', err instanceof PoolBusyError ? '1' : '30');
      throw new HttpProblem(503, 'Service unavailable', `the preview cannot run now: ${err.message}`);
    }
    res.type('application/json').send(text);
  };

  return { previewRule };
}
