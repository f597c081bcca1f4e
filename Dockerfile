# No `# syntax=` line: BuildKit would fetch that frontend image from Docker Hub, whose anonymous pull limit
# CodeBuild's shared addresses soon meet. Its built-in frontend reads everything below.

# Every stage's base, pinned to one Node release: Docker's official image (Debian trixie, slim) from ECR Public's
# mirror of Docker Hub's official images, which CodeBuild pulls without that limit. This line is the one place the
# base and the Node version are written; .ci/base-image reads them for CI, CodeBuild's test container and the smoke
# build (docs/development.md, "Refreshing the pinned base").
ARG NODE_IMAGE=public.ecr.aws/docker/library/node:24.22.3-trixie-slim
# The base of the stages that install and compile but ship nothing of their own: the same image, except in the image
# test (test/image), which gives them a stand-in that also trusts the machine's TLS proxy to the npm registry. The
# runtime stage takes only files from them, never their base, so that certificate cannot reach the image.
ARG BUILD_IMAGE=${NODE_IMAGE}

# Build: compile TypeScript with the full (dev) dependency set.
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
# The workspace's manifests first (the root's and each package's), so that the install layer is cached until one of
# them changes.
COPY package.json package-lock.json ./
COPY packages/bearer/package.json ./packages/bearer/
COPY packages/bearer-koa/package.json ./packages/bearer-koa/
COPY packages/bearer-testing/package.json ./packages/bearer-testing/
COPY packages/bearer-express/package.json ./packages/bearer-express/
COPY packages/bearer-fastify/package.json ./packages/bearer-fastify/
COPY packages/bearer-node/package.json ./packages/bearer-node/
# No dependency's install script runs (Scarf's telemetry among them); none is needed to build or run.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json tsconfig.build.json ./
COPY packages/bearer/tsconfig.json ./packages/bearer/
COPY packages/bearer/src ./packages/bearer/src
COPY packages/bearer-koa/tsconfig.json ./packages/bearer-koa/
COPY packages/bearer-koa/src ./packages/bearer-koa/src
COPY packages/bearer-testing/tsconfig.json ./packages/bearer-testing/
COPY packages/bearer-testing/src ./packages/bearer-testing/src
COPY packages/bearer-express/tsconfig.json ./packages/bearer-express/
COPY packages/bearer-express/src ./packages/bearer-express/src
COPY packages/bearer-fastify/tsconfig.json ./packages/bearer-fastify/
COPY packages/bearer-fastify/src ./packages/bearer-fastify/src
COPY packages/bearer-node/tsconfig.json ./packages/bearer-node/
COPY packages/bearer-node/src ./packages/bearer-node/src
COPY src ./src
# The packages first (tsc -b, into packages/*/dist), then the service against their dist/. The source maps point at
# TypeScript the image does not ship, and the build-info files only serve the next incremental build: both go.
RUN npm run build && find dist packages/*/dist \( -name '*.map' -o -name '*.tsbuildinfo' \) -delete

# Production dependencies: those of the service and of the two packages it runs on (the other adapters and the test
# kit are workspace packages it does not import), installed here so that the runtime stage needs no network.
FROM ${BUILD_IMAGE} AS production-dependencies
WORKDIR /app
# Every workspace's manifest: npm ci checks the whole lockfile against them.
COPY package.json package-lock.json ./
COPY packages/bearer/package.json ./packages/bearer/
COPY packages/bearer-koa/package.json ./packages/bearer-koa/
COPY packages/bearer-testing/package.json ./packages/bearer-testing/
COPY packages/bearer-express/package.json ./packages/bearer-express/
COPY packages/bearer-fastify/package.json ./packages/bearer-fastify/
COPY packages/bearer-node/package.json ./packages/bearer-node/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  --include-workspace-root --workspace=@product-service/bearer --workspace=@product-service/bearer-koa

# Runtime: production dependencies and the compiled JavaScript only, as an unprivileged user.
FROM ${NODE_IMAGE} AS runtime
# Every interface: a container's port is reached through its own network interface, never its loopback. The service
# itself listens on loopback unless told (HOST), so that local mode is not offered to the network.
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
# The root manifest says the compiled code is ES modules; node_modules links each package to packages/<name>, where
# its manifest and dist/ are.
COPY package.json ./
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY packages/bearer/package.json ./packages/bearer/
COPY packages/bearer-koa/package.json ./packages/bearer-koa/
COPY --from=build /app/packages/bearer/dist ./packages/bearer/dist
COPY --from=build /app/packages/bearer-koa/dist ./packages/bearer-koa/dist
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The service as in AWS (src/server.ts; `npm start` runs src/local/main.ts, which adds the embedded issuer and
# store when nothing is configured). Node runs as PID 1 and handles SIGTERM itself. The --import module sets up
# OpenTelemetry before the app loads when OTEL_EXPORTER_OTLP_ENDPOINT is set, and does nothing otherwise.
CMD ["node", "--import", "./dist/telemetry/register.js", "dist/server.js"]
