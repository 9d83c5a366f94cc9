#!/bin/sh
# Compose's Superset: the same steps as `python -m pipeline bi up` (pipeline/stack/bi.py), in a container.
# The config comes from the same function; the secrets are generated once into the volume (mode 0600).
set -eu
HOME_DIR=${SUPERSET_HOME:-/var/lib/superset}
mkdir -p "$HOME_DIR"
umask 077
[ -f "$HOME_DIR/secret_key" ] || python -c "import secrets; print(secrets.token_urlsafe(42))" > "$HOME_DIR/secret_key"
[ -f "$HOME_DIR/admin_password" ] || python -c "import secrets; print(secrets.token_urlsafe(18))" > "$HOME_DIR/admin_password"
python - <<PY
from pathlib import Path
from pipeline.stack.bi import config_text
home = Path("$HOME_DIR")
Path("$SUPERSET_CONFIG_PATH").write_text(config_text(home / "superset.db", (home / "secret_key").read_text().strip()))
PY
superset db upgrade
superset fab create-admin --username admin --firstname Lakehouse --lastname Admin --email admin@localhost \
    --password "$(cat "$HOME_DIR/admin_password")"
superset init
gunicorn --bind 0.0.0.0:8088 --workers 1 --worker-class gthread --threads 8 --timeout 120 --no-control-socket \
    'superset.app:create_app()' &
until python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8088/health')" 2>/dev/null; do sleep 2; done
python -m pipeline.stack.bi publish --url http://127.0.0.1:8088 --password-file "$HOME_DIR/admin_password" \
    --trino-host "${TRINO_HOST:-trino}" --trino-port "${TRINO_PORT:-8080}"
echo "admin password: $HOME_DIR/admin_password (docker compose exec superset cat $HOME_DIR/admin_password)"
wait
