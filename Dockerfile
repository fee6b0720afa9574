# NAT-T Lab in a container: the Streamlit app on port 8501, and the `natt-lab` CLI.
#   docker build -t natt-lab .
#   docker run --rm -p 8501:8501 natt-lab            # then open http://localhost:8501
#   docker run --rm natt-lab natt-lab run client-behind-nat
# Debian (bookworm) like the machines the tests run on; Graphviz's `dot` draws the topology on the
# server. Nothing is fetched at run time: the page's fonts and icons are served by the app.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false STREAMLIT_SERVER_HEADLESS=true

WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install -r requirements.txt
COPY . .
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 lab \
    && chown -R lab /app
USER lab

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health').read() != b'ok')"
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.fileWatcherType", "none"]
