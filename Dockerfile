# syntax=docker/dockerfile:1
# Build: compile TypeScript with the full (dev) dependency set.
FROM node:24-trixie-slim AS build
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
# The packages first (tsc -b, into packages/*/dist), then the service against their dist/.
RUN npm run build

# Runtime: production dependencies and the compiled JavaScript only, as an unprivileged user.
FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/bearer/package.json ./packages/bearer/
COPY packages/bearer-koa/package.json ./packages/bearer-koa/
# Every workspace's manifest (the install covers them all); only the dist/ of what the service imports is shipped.
COPY packages/bearer-testing/package.json ./packages/bearer-testing/
COPY packages/bearer-express/package.json ./packages/bearer-express/
COPY packages/bearer-fastify/package.json ./packages/bearer-fastify/
COPY packages/bearer-node/package.json ./packages/bearer-node/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# npm links each workspace package into node_modules; the compiled code of the two the service imports is shipped
# (the other adapters and the test kit are not imported, so their dist/ stays out).
COPY --from=build /app/packages/bearer/dist ./packages/bearer/dist
COPY --from=build /app/packages/bearer-koa/dist ./packages/bearer-koa/dist
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The service as in AWS (src/server.ts; `npm start` runs src/local/main.ts, which adds the embedded issuer and
# store when nothing is configured). Node runs as PID 1 and handles SIGTERM itself. The --import module sets up
# OpenTelemetry before the app loads when OTEL_EXPORTER_OTLP_ENDPOINT is set, and does nothing otherwise.
CMD ["node", "--import", "./dist/telemetry/register.js", "dist/server.js"]
