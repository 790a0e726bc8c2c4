# buudien — multi-stage image: build with the toolchain, run as a non-root user on the current LTS.
# Build:  docker build -t buudien .      Run: see docker/compose.yaml and the README's ops section.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 and argon2 compile their native parts when no prebuilt binary fits.
RUN if ! command -v g++ >/dev/null; then apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*; fi
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 argon2
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# The allocator settings of `npm start` (README, "Memory"): two malloc arenas, and buffers of
# 256 KB or more (whole messages) always given back to the system when freed.
ENV NODE_ENV=production \
    BUUDIEN_CONFIG=/app/docker/buudien.yaml \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=262144
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY docker/buudien.yaml ./docker/buudien.yaml
# /backups: mount another disk there and set backup.dir: /backups (R-OPS-1).
RUN mkdir -p /data /backups && chown node:node /data /backups
USER node
VOLUME ["/data"]
# SMTP (MX), submission, submissions, IMAP, IMAPS, POP3, POP3S, HTTP (health, metrics, autoconfig)
EXPOSE 2525 2587 2465 1143 1993 1110 1995 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# The same Node flags as `npm start` (test/unit/packaging.test.ts): a 1 GB JavaScript heap, as a
# 4 GB host gets by default; on a big host V8 would otherwise let garbage pile up to GBs first.
CMD ["node", "--max-old-space-size=1024", "bin/buudien.js", "serve"]
