#!/usr/bin/env bash
# Installs everything gostub needs to build, test and benchmark on Debian 12 (bookworm).
# Idempotent. Enables bookworm-backports (for golang-1.21/1.22/1.23) using the mirror that the
# machine's existing apt sources already use: no mirror host name lives in this repository.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

backports_file=/etc/apt/sources.list.d/gostub-backports.sources

find_debian_uri() {
  # deb822 sources first, then one-line sources; the first URI that serves suite "bookworm".
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    [ "$f" = "$backports_file" ] && continue
    uri=$(awk '
      /^[[:space:]]*$/ { if (suite_ok && uri != "") { print uri; exit } uri=""; suite_ok=0; next }
      /^URIs:/   { uri=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite_ok=1 }
      END { if (suite_ok && uri != "") print uri }' "$f" | head -1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri=$(find_debian_uri)
  if [ -n "${uri:-}" ]; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" | $SUDO tee "$backports_file" >/dev/null
  else
    echo "setup: no bookworm apt source found; Go 1.21+ toolchains will be skipped" >&2
  fi
fi

stamp=/var/lib/apt/periodic/gostub-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$backports_file" -newer "$stamp" 2>/dev/null)" ] ||
   [ -z "$(find "$stamp" -mmin -720 2>/dev/null)" ]; then
  $SUDO apt-get update -qq
  $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libboost-dev libcapstone-dev doctest-dev libfmt-dev libcli11-dev libdw-dev zlib1g-dev
  libre2-dev clang-19 libclang-rt-19-dev
  gdb gdbserver lldb-19 golang-go python3
  file lintian man-db  # the Debian package: CPack finds executables with file; its test
)
optional=(golang-1.21-go golang-1.22-go golang-1.23-go delve)

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for p in "${optional[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" ||
    echo "setup: optional package $p is not available here" >&2
done
