import { Router } from 'express';
import { apiRouter } from './access';
import { z } from 'zod';
import { compileRule, evaluateRule, toPreview } from '../domain/rule';
import { VersionRuleSchema } from '../domain/rule-schema';
import { PRECEDENCES, Precedence } from '../domain/version';
import { parseOr400 } from './problem';

/** Up to 100,000 tags of at most 1,024 characters: generous for real repositories, bounded for the API. */
export const PreviewRequestSchema = z
  .object({
    rule: VersionRuleSchema.optional(),
    tags: z.array(z.string().max(1024)).max(100_000),
    /** How labels compare: `docker` (OCI feeds, the default) or `semver` (Helm charts). */
    precedence: z.enum(PRECEDENCES as [Precedence, ...Precedence[]]).default('docker'),
  })
  .strict();

/** `POST /rules/preview`: Octopus's "Design rule" for a tag list, without touching any feed. */
export function ruleRoutes(): Router {
  const router = apiRouter();
  router.post('/rules/preview', (req, res) => {
    const { rule, tags, precedence } = parseOr400(PreviewRequestSchema, req.body);
    res.json(toPreview(evaluateRule(compileRule(rule ?? {}, precedence), tags)));
  });
  return router;
}
