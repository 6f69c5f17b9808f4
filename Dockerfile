# trm as a container image: any trm command, typically `trm worker` for distributed sweeps
# (docs/REPORTS.md, "Several machines"). Two stages: the build stage has g++, make and python3 and
# compiles the native addon and the TypeScript; the runtime stage is node:20-bookworm-slim with the
# compiled package only (no compiler, no dev dependencies) and runs as the non-root user `node`.
#
#   docker build -t trm .
#   docker run --rm trm info
#   docker run --rm -v /shared:/shared trm worker --queue redis://redis:6379 --runs /shared
#
# The addon is built for the build machine's architecture (linux/amd64 or linux/arm64) without
# -march=native: the fastest kernel path (AVX-512, AVX2, portable) is chosen at run time.

FROM node:20-bookworm AS build
WORKDIR /src
# node:20-bookworm (buildpack-deps) has g++, make and python3 for node-gyp
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY native native
COPY src src
COPY tools tools
# no .git here, so tools/install.cjs looks for a prebuild (none is copied) and builds from source;
# `prepare` compiles the TypeScript; then the dev dependencies go
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund \
 && node dist/cli/main.js info

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/build/Release/trm_native.node build/Release/trm_native.node
# the shipped models (trm solve without --checkpoint, trm eval --model)
COPY models models
# the image's user `node` (uid 1000) owns the working directory; mount shared run roots writable for it
RUN mkdir -p /work && chown node:node /work && ln -s /app/dist/cli/main.js /usr/local/bin/trm && chmod +x /app/dist/cli/main.js
USER node
WORKDIR /work
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
