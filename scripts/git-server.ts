import { parseArgs } from 'node:util';
import { startGitServer } from '../test/support/git-server';

/**
 * `npm run git-server`: a Git server for the lifecycle example (docs/lifecycles.md), on 127.0.0.1 (smart
 * HTTP through the real `git http-backend`). It serves `deploy.git`, whose `main` holds a base (a Deployment with one
 * container) and a kustomization per environment naming its image (`--registry`, default 127.0.0.1:5000),
 * until Ctrl-C; the repository lives in a temporary folder removed on exit.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8090' },
    registry: { type: 'string', default: '127.0.0.1:5000' },
  },
});

const kustomization = (env: string) => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: promote-${env}
resources:
  - ../../base
images:
  - name: promote/web
    newName: ${values.registry}/promote/web
    newTag: 0.0.0
`;

/** The base every overlay builds on: one Deployment whose container runs the image the overlays set. */
const BASE = {
  'base/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
`,
  'base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: promote/web
          ports:
            - containerPort: 8080
`,
};

async function main(): Promise<void> {
  const server = await startGitServer({ port: Number(values.port) });
  const url = server.createRepo('deploy', {
    ...BASE,
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
