#!/usr/bin/env bash
# Installs the Python package (component "python") from a build tree under a temporary DESTDIR,
# then, with nothing from the build tree on the path, imports it with Debian's interpreter,
# records a run into a temporary store and reads it back through the package's own read API.
#
#   install_test.sh BUILD_DIR PYTHON SITE
set -euo pipefail
build=$1
python=$2
site=$3

work=$(mktemp -d "${TMPDIR:-/tmp}/labbook-python-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

DESTDIR="$work/root" cmake --install "$build" --component python >/dev/null
installed="$work/root$site"
for file in __init__.py _labbook.pyi py.typed integrations/torch.py; do
  if [[ ! -f "$installed/labbook/$file" ]]; then
    echo "install_test: $installed/labbook/$file was not installed" >&2
    exit 1
  fi
done
if ! compgen -G "$installed/labbook/_labbook*.so" >/dev/null; then
  echo "install_test: no extension module under $installed/labbook" >&2
  exit 1
fi

cd "$work"
env -i PATH=/usr/bin:/bin HOME="$work" PYTHONPATH="$installed" PYTHONDONTWRITEBYTECODE=1 \
  LABBOOK_STORE="$work/runs.db" "$python" - "$installed" <<'PY'
import sys
import labbook

assert labbook.__file__.startswith(sys.argv[1]), labbook.__file__
with labbook.init(project="installed", config={"lr": 0.1}) as run:
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)})
(found,) = labbook.Api().runs("installed")
assert (found.id, found.state, found.config["lr"]) == (run.id, "finished", 0.1), found
losses = list(found.history(keys=["loss"])["loss"])
assert losses == [1.0, 0.5, 1.0 / 3, 0.25, 0.2], losses
PY
echo "install_test: labbook imported from $installed and recorded run OK"
