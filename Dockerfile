# syntax=docker/dockerfile:1
# shared-context-server: `docker build -t shared-context-server .`
# One node on SQLite: docker run -p 23456:23456 -v scs-data:/data shared-context-server
# Several nodes on PostgreSQL: docker-compose.yml and docs/deployment.md.

# ---- build: compile TypeScript, then keep only the runtime dependencies ----
FROM node:20-bookworm-slim AS build
# better-sqlite3 is a native addon: when no prebuilt binary can be fetched, npm ci compiles it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# ---- runtime ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=23456 \
    DATA_DIR=/data
WORKDIR /app
# node_modules comes from the build stage (same base image, so the compiled better-sqlite3 fits):
# no compiler in this image. It keeps esbuild, preact, uplot, marked and dompurify, which the
# dashboard needs at run time: /ui/ bundles ui/src/main.tsx with esbuild on its first request.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY ui ./ui
# The image's files stay root-owned and read-only to the server; it writes only to /data
# (the SQLite file and generated keys.json on one node; server.json in any case).
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 23456
# No curl in the slim image: node asks /health (200 when the database answers, 503 when not).
# With ALLOWED_HOSTS set, include 127.0.0.1 in it, or this check gets 403.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||23456)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM from `docker stop` (a clean shutdown: WebSockets close 1001).
CMD ["node", "dist/cli/main.js", "serve"]
