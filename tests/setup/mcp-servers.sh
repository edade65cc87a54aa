#!/usr/bin/env bash
# Installs the reference MCP servers the MCP tests run (the npm packages of
# modelcontextprotocol/servers, pinned) into ${HEARTH_TEST_MCP:-$HOME/.cache/hearth/mcp-servers},
# once. Prints the folder. Safe to run again: it installs only what is missing or of another version.
set -euo pipefail

dir="${HEARTH_TEST_MCP:-$HOME/.cache/hearth/mcp-servers}"
version="2026.8.31"
packages=(everything filesystem)

have() {
  for p in "${packages[@]}"; do
    local manifest="$dir/node_modules/@modelcontextprotocol/server-$p/package.json"
    [ -f "$manifest" ] && grep -q "\"version\": \"$version\"" "$manifest" || return 1
  done
}

if ! have; then
  command -v npm >/dev/null || { echo "mcp-servers: npm is needed (make deps-test installs Node.js)" >&2; exit 1; }
  echo "Installing the reference MCP servers ($version) into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    $(printf "@modelcontextprotocol/server-%s@$version " "${packages[@]}") >&2
  have || { echo "mcp-servers: the servers did not install into $dir at $version" >&2; exit 1; }
fi
echo "$dir"
