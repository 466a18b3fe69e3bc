import { z } from 'zod';

const PlatformSchema = z.object({
  os: z.string().max(64).optional(),
  architecture: z.string().max(64).optional(),
  variant: z.string().max(64).optional(),
});
const IndexSchema = z.object({
  manifests: z
    .array(z.object({ platform: PlatformSchema.optional() }).passthrough())
    .max(10_000)
    .optional(),
});

/** A platform's text; the variant only where the image names one. */
function platformText(p: z.infer<typeof PlatformSchema>): string {
  return [p.os ?? '', p.architecture ?? '', ...(p.variant ? [p.variant] : [])].join('/');
}

/** Whether an image's platform satisfies a required one: `linux/arm64` takes any variant, `linux/arm/v7` only v7. */
function satisfies(image: string, required: string): boolean {
  return image === required || image.startsWith(`${required}/`);
}

/** The platforms an image index lists (null when the manifest is not an index). */
export function indexPlatforms(manifest: unknown): string[] | null {
  const parsed = IndexSchema.safeParse(manifest);
  if (!parsed.success || !parsed.data.manifests) return null;
  return parsed.data.manifests.flatMap((m) => (m.platform ? [platformText(m.platform)] : []));
}

/** The platform an image config names. */
export function configPlatform(config: unknown): string {
  const parsed = PlatformSchema.safeParse(config);
  return parsed.success ? platformText(parsed.data) : '/';
}

/** Why an index lacks required platforms, or null when it holds them all. */
export function indexRefusal(listed: readonly string[], required: readonly string[]): string | null {
  const missing = required.filter((r) => !listed.some((p) => satisfies(p, r)));
  return missing.length === 0 ? null : `no ${missing.join(', ')} image in the index`;
}

/** Why a single-platform image is not one of the required platforms, or null when it is. */
export function imageRefusal(platform: string, required: readonly string[]): string | null {
  return required.some((r) => satisfies(platform, r))
    ? null
    : `a ${platform} image, not ${required.join(' or ')}`;
}
