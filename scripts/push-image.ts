import { pushImage } from '../test/support/push-image';

/** `npm run push-image -- HOST/REPOSITORY TAG`: pushes a tiny synthetic image, for demos without Docker. */
async function main(argv: string[]): Promise<void> {
  const [reference, tag] = argv;
  const m = /^([^/]+)\/(.+)$/.exec(reference ?? '');
  if (!m || !tag) {
    process.stderr.write('usage: npm run push-image -- HOST[:PORT]/REPOSITORY TAG\n');
    process.exit(2);
  }
  const scheme = /^(localhost|127\.)/.test(m[1]) ? 'http' : 'https';
  const user = process.env.REGISTRY_USER;
  const authorization = user
    ? `Basic ${Buffer.from(`${user}:${process.env.REGISTRY_PASSWORD ?? ''}`).toString('base64')}`
    : undefined;
  const digest = await pushImage(`${scheme}://${m[1]}`, m[2], tag, { authorization });
  process.stdout.write(`pushed ${reference}:${tag} ${digest}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`push-image: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
