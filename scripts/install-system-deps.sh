#!/usr/bin/env bash
# Install the Debian packages unmask needs, only those that are missing.
#   ffmpeg     codecs PyAV's wheel lacks (AMR-NB, GSM, Speex...) for fixtures and corruption tests
#   espeak-ng  offline TTS used to make fake training/demo clips
#   alsa-utils its /usr/share/sounds/alsa voice recordings are the demo's real clips
#   flite, festival + voices (incl. an HTS voice): more offline TTS engines for fake training data
#   postgresql a server the bench tests start on loopback to check the PostgreSQL results store
#   chromium   the browser Playwright drives in the `unmask serve` page test (tests/service/test_browser.py)
#   asc-music  three rock tracks (10 MB): the demo's real music (scripts/build_music_pool.py installs more)
set -euo pipefail
packages=(ffmpeg espeak-ng alsa-utils flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts postgresql chromium asc-music)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
