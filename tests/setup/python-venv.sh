#!/usr/bin/env bash
# Creates the Python virtual environment the server's tests drive the official `openai` and
# `anthropic` clients from, once, at ${HEARTH_TEST_VENV:-$HOME/.cache/hearth/venv}, and installs
# the pinned packages into it. A venv because Debian 12's system pip refuses global installs (PEP 668).
# Prints the venv's python. Safe to run again: it only installs what is missing.
set -euo pipefail

venv="${HEARTH_TEST_VENV:-$HOME/.cache/hearth/venv}"
openai_version="3.54.0"
anthropic_version="2.14.0"
# Validates structured output against its schema in the server's tests.
jsonschema_version="4.26.0"
# OpenAI's Agents SDK, run against the Responses API in the server's tests.
agents_version="0.25.0"
python="$venv/bin/python"

have() {
  [ -x "$python" ] && "$python" -c "import anthropic, openai, sys, importlib.metadata as m; sys.exit(openai.__version__ != '$openai_version' or anthropic.__version__ != '$anthropic_version' or m.version('jsonschema') != '$jsonschema_version' or m.version('openai-agents') != '$agents_version')" 2>/dev/null
}

if ! have; then
  if [ ! -x "$python" ]; then
    echo "Creating the test venv at $venv" >&2
    if ! python3 -m venv "$venv" >&2; then
      rm -rf "$venv"
      # Debian's python3 leaves venv (ensurepip) to a package of its own.
      if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
        echo "Installing python3-venv" >&2
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >&2
        python3 -m venv "$venv" >&2
      else
        echo "python-venv: python3 cannot create a venv; install python3-venv (apt-get install python3-venv)" >&2
        exit 1
      fi
    fi
  fi
  echo "Installing openai==$openai_version, anthropic==$anthropic_version, jsonschema==$jsonschema_version and openai-agents==$agents_version into $venv" >&2
  "$python" -m pip install --quiet --disable-pip-version-check "openai==$openai_version" "anthropic==$anthropic_version" "jsonschema==$jsonschema_version" "openai-agents==$agents_version" >&2
  have || { echo "python-venv: openai, anthropic, jsonschema or openai-agents did not install into $venv at the pinned versions" >&2; exit 1; }
fi
echo "$python"
