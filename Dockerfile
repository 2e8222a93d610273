# paygate container image.
#
#   docker build -t paygate .
#   docker run -p 3000:3000 -v paygate-data:/app/data paygate
#
# Two stages: "build" has the compilers better-sqlite3 may need and every
# dependency to compile the TypeScript, then drops the dev dependencies; the
# final image gets only dist/, the production node_modules (with
# better-sqlite3's native binding built for this very base image) and
# package.json, and runs as the unprivileged `node` user.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 falls back to node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()"

# --- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app

# The code belongs to root and is read-only for the service; only the data
# directory (SQLite file, generated keys, sandbox keys) is writable by it.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data && chmod 0700 /app/data
VOLUME ["/app/data"]

USER node
EXPOSE 3000

# /health answers 200 only when the database answers (503 otherwise). Node's
# own fetch: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# Migrations run at boot. paygate handles SIGTERM itself (shutdown hooks), so
# node can be PID 1 and `docker stop` shuts it down cleanly.
CMD ["node", "dist/src/main.js"]
