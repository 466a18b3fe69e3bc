import { parseArgs } from 'node:util';
import { startGitServer } from '../test/support/git-server';

/**
 * `npm run git-server`: a Git server for the README's lifecycle example, on 127.0.0.1 (smart HTTP through
 * the real `git http-backend`). It serves `deploy.git`, whose `main` holds a kustomization per environment,
 * until Ctrl-C; the repository lives in a temporary folder removed on exit.
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '8090' } } });

const kustomization = (env: string) => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: demo-${env}
resources:
  - ../../base
images:
  - name: demo/web
    newTag: 0.0.0
`;

async function main(): Promise<void> {
  const server = await startGitServer({ port: Number(values.port) });
  const url = server.createRepo('deploy', {
    'base/deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n',
    'overlays/dev/kustomization.yaml': kustomization('dev'),
    'overlays/test/kustomization.yaml': kustomization('test'),
    'overlays/prod/kustomization.yaml': kustomization('prod'),
  });
  process.stdout.write(`serving ${url} (git clone ${url}); Ctrl-C stops\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
