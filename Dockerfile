# syntax=docker/dockerfile:1
# Build: compile TypeScript with the full (dev) dependency set.
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency's install script runs (Scarf's telemetry among them); none is needed to build or run.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies and the compiled JavaScript only, as an unprivileged user.
FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The service as in AWS (src/server.ts; `npm start` runs src/local/main.ts, which adds the embedded issuer and
# store when nothing is configured). Node runs as PID 1 and handles SIGTERM itself. The --import module sets up
# OpenTelemetry before the app loads when OTEL_EXPORTER_OTLP_ENDPOINT is set, and does nothing otherwise.
CMD ["node", "--import", "./dist/telemetry/register.js", "dist/server.js"]
