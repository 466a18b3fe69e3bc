FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src src
COPY workflows workflows
COPY activities activities
COPY scripts scripts
# The benchmark and helper scripts compiled with the service share test/support's registry and push helpers.
COPY test/support test/support
COPY bin bin
# The image's own Node 24 runs the service: the Node that package.json pins for machines with an older one
# (node_modules/node, ~125 MB) is left out.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev && rm -rf node_modules/node node_modules/.bin/node

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# JSON log lines on stdout; the API listens on every interface, so it starts only once an API token exists
# (feed-triggers token create NAME --role admin, with DATABASE_URL set).
ENV FEED_TRIGGERS_API_HOST=0.0.0.0 NODE_ENV=production LOG_LEVEL=info
USER node
EXPOSE 8080
# SIGTERM drains the worker: running polls and deliveries finish before the process exits.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The role is the command: serve (API and worker), api, worker; or any CLI command (token, apply, get).
ENTRYPOINT ["node", "bin/feed-triggers.js"]
CMD ["serve"]
