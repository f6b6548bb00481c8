# featuremaps: the web app and REST API with the shipped weights, served by uvicorn on :8000.
#
#   docker build -t featuremaps .
#   docker run --rm --stop-timeout 35 -p 127.0.0.1:8000:8000 featuremaps
#
# Works with the classic builder (no BuildKit features). Build arguments:
#   BASE_IMAGE       any Debian-like image with python3.11 and python3 -m venv (default python:3.11-slim)
#   TORCH_INDEX_URL  where torch comes from; unset, pip's own index, whose Linux torch is the
#                    CUDA build (several GB; runs on the CPU, and on a GPU with --gpus all);
#                    PyTorch's CPU wheel index gives a small CPU-only image
#   PIP_NO_INDEX=1   offline build: install only from the wheels/ folder of the build context
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST   a package mirror for the rest
# See docs/docker.md.

ARG BASE_IMAGE=python:3.11-slim

# ---- dependencies: a venv in /opt/venv, rebuilt only when pyproject.toml, requirements.lock
# or wheels/ change ----
FROM ${BASE_IMAGE} AS deps

# declared without defaults: an unset ARG stays out of the environment, so pip sees only what
# the build passes (the project names no package index of its own: docs/docker.md)
ARG TORCH_INDEX_URL
ARG PIP_NO_INDEX
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST

ENV LANG=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# a venv, not the system site-packages: Debian's python3 refuses system-wide pip (PEP 668)
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY pyproject.toml requirements.lock /src/
# wheels/ holds only .gitkeep in git; put wheels there for an offline (or partly offline) build
COPY wheels/ /wheels/

# Two installs. First torch, as pyproject.toml pins it, from TORCH_INDEX_URL where one is given
# (PyTorch's CPU build is a fraction of the size of the CUDA one that pip's own index holds,
# which brings the NVIDIA libraries with it). Then everything else at the exact releases of
# requirements.lock, from the normal index, together with pyproject.toml's own ranges (a lock
# that no longer satisfies them fails here); this also moves torch's dependencies to their
# locked releases, whatever the torch index offered.
# torch's wheel carries its own C++ unit-test binaries (about 130 MB) and C++ headers for
# building extensions (62 MB), and the packages carry their test suites (about 60 MB, sympy's
# and numpy's the most): none is used at run time, so they go.
# The app itself is not pip-installed: it runs from /app, where it finds templates, static
# and models next to the package.
RUN python -c "import re, tomllib; name = lambda d: re.split(r'[<>=!~;\[ ]', d, maxsplit=1)[0].lower(); deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; pins = [p for p in (line.split('#')[0].strip() for line in open('/src/requirements.lock')) if p]; torch = [d for d in deps if name(d) == 'torch']; assert len(torch) == 1, deps; open('/src/torch.txt', 'w').write(torch[0] + '\n'); open('/src/rest.txt', 'w').write('\n'.join([d for d in deps if d not in torch] + [p for p in pins if name(p) != 'torch']) + '\n')" \
 && pip install --find-links /wheels ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} -r /src/torch.txt \
 && pip install --find-links /wheels -r /src/rest.txt \
 && pip check \
 && rm -rf /opt/venv/lib/python3*/site-packages/torch/test \
           /opt/venv/lib/python3*/site-packages/torch/bin/test_* \
           /opt/venv/lib/python3*/site-packages/torch/bin/*Test \
           /opt/venv/lib/python3*/site-packages/torch/include \
 && find /opt/venv/lib/python3*/site-packages -depth -type d -name tests -exec rm -rf {} +

# ---- runtime: the venv, the code, the weights; no wheels, no build caches ----
FROM ${BASE_IMAGE}

ENV LANG=C.UTF-8 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    FEATUREMAPS_HOST=0.0.0.0 \
    FEATUREMAPS_PORT=8000

# an unprivileged user with a fixed uid (runAsNonRoot policies want a number); no home, no login
RUN groupadd --gid 10001 featuremaps \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --no-log-init \
        --shell /usr/sbin/nologin featuremaps

COPY --from=deps /opt/venv /opt/venv
# `featuremaps ...` as the docs write it (the app is not pip-installed, so pip made no script)
RUN printf '#!/bin/sh\nexec python -m app "$@"\n' > /opt/venv/bin/featuremaps \
 && chmod 755 /opt/venv/bin/featuremaps

WORKDIR /app
COPY models/ /app/models/
COPY templates/ /app/templates/
COPY static/ /app/static/
COPY app/ /app/app/

# Byte-compile the app now: the container may run read-only and never writes .pyc files.
# Then load every shipped variant once on the CPU (the app serves all of models/ unless
# FEATUREMAPS_MODELS says otherwise), so that a broken torch install or weights file fails here.
RUN chmod -R a+rX /app \
 && python -m compileall -q /app/app \
 && python -c "from app.config import Settings; from app.ml.engine import Engine; Engine.load(Settings(device='cpu'))"

USER 10001:10001
EXPOSE 8000

# every 10 s: orchestrators waiting for "healthy" wait one interval after the start (about 2 s).
# It asks the address the server listens on (loopback when that is every address).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; h = os.environ.get('FEATUREMAPS_HOST', '0.0.0.0'); h = '127.0.0.1' if h in ('', '0.0.0.0') else '[::1]' if h == '::' else '[%s]' % h if ':' in h else h; sys.exit(0 if urllib.request.urlopen('http://%s:%s/healthz' % (h, os.environ.get('FEATUREMAPS_PORT', '8000')), timeout=4).status == 200 else 1)"]

# `featuremaps serve`: loads (and checks) the weights before it binds the port, and logs to
# stderr, the app's JSON access log included. exec: python is PID 1 and gets SIGTERM.
# Host and port come from FEATUREMAPS_HOST / FEATUREMAPS_PORT (0.0.0.0:8000 above), so -e
# changes them. The device defaults to auto: a CUDA build uses the GPU when run with
# --gpus all (-e FEATUREMAPS_DEVICE=cuda makes a missing GPU stop start-up instead).
CMD ["python", "-m", "app", "serve"]
