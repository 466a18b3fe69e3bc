/** Pushing a small synthetic image to a registry over plain HTTP: for tests, benches and `npm run push-image`. */
import { createHash, randomBytes } from 'node:crypto';

export type ManifestKind = 'oci' | 'docker';

export interface PushOptions {
  readonly kind?: ManifestKind;
  readonly authorization?: string;
  /** Config media type, e.g. Helm's `application/vnd.cncf.helm.config.v1+json`. */
  readonly configMediaType?: string;
  readonly config?: object;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pushes a small image with plain HTTP (upload, blob PUT with digest, manifest PUT); returns its digest. */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  options: PushOptions = {},
): Promise<string> {
  const kind = options.kind ?? 'oci';
  const auth: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  const config = Buffer.from(
    JSON.stringify(
      options.config ?? {
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { tag } },
        rootfs: { type: 'layers', diff_ids: [] },
      },
    ),
  );
  const layer = randomBytes(64);
  const upload = async (blob: Buffer): Promise<string> => {
    const digest = sha256(blob);
    const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, {
      method: 'POST',
      headers: auth,
    });
    if (start.status !== 202) throw new Error(`blob upload start: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location')!, registryUrl);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: blob,
    });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
    return digest;
  };
  const configDigest = await upload(config);
  const layerDigest = await upload(layer);
  const manifestType =
    kind === 'oci'
      ? 'application/vnd.oci.image.manifest.v1+json'
      : 'application/vnd.docker.distribution.manifest.v2+json';
  const configType =
    options.configMediaType ??
    (kind === 'oci'
      ? 'application/vnd.oci.image.config.v1+json'
      : 'application/vnd.docker.container.image.v1+json');
  const layerType =
    kind === 'oci'
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: configType, digest: configDigest, size: config.length },
      layers: [{ mediaType: layerType, digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': manifestType },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
  return sha256(manifest);
}
