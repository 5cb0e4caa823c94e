#!/usr/bin/env bash
# Builds the "extra" validation corpora: real images and audio from Debian 12 packages and the
# scikit-image wheel that the dev corpus does not use, of the same kinds (photos, textures,
# scans, logos; music, sound effects, speech). Nothing here was made by us. They are for
# checking that what works on `shared/corpus/*/dev` is not tuned to those files; no setting
# is chosen on them.
#
#   scripts/build_extra_corpus.sh OUT_DIR
#
# Writes OUT_DIR/image/extra/*.png|jpg and OUT_DIR/audio/extra/*.wav. Needs apt-get (Debian
# bookworm sources), sox with Ogg support, python3 with pip (for Pillow and scikit-image).
set -euo pipefail
out=${1:?usage: $0 OUT_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/image/extra" "$out/audio/extra"

# Images: scikit-image's bundled data (CC0 / public domain, see skimage.data docstrings).
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q scikit-image==0.26.0 pillow
data=$("$work/venv/bin/python" -c 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), "data"))')
for f in coffee.png coins.png hubble_deep_field.jpg ihc.png motorcycle_left.png retina.jpg \
    moon.png page.png text.png brick.png gravel.png; do
  cp "$data/$f" "$out/image/extra/"
done
# skimage's logo is RGBA: flattened on white, as the dev corpus treats its logo.
"$work/venv/bin/python" - "$data/logo.png" "$out/image/extra/sk_logo.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGBA")
bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
bg.alpha_composite(im)
bg.convert("RGB").save(sys.argv[2])
PY

# Audio: Debian packages (licences in each package's copyright file).
(cd "$work" && apt-get download supertux-data frozen-bubble-data sound-theme-freedesktop \
  fretsonfire-songs-sectoid klettres-data >/dev/null)
for d in "$work"/*.deb; do dpkg-deb -x "$d" "$work/x"; done
x=$work/x
a=$out/audio/extra
s="$x/usr/share/games/fretsonfire/data/songs/sectoid/Metal madness"
sox -m "$s/song.ogg" "$s/guitar.ogg" -b 16 "$a/mu_sectoid_metal_44k_stereo.wav" trim 30 40 gain -n -1
sox "$x/usr/share/games/supertux2/music/tropical/tropicalbreeze.ogg" -b 16 \
  "$a/mu_supertux_tropical_44k_stereo.wav" trim 10 30
sox "$x/usr/share/games/frozen-bubble/snd/frozen-mainzik-1p.ogg" -b 24 \
  "$a/mu_frozenbubble_44k_stereo_24bit.wav" trim 5 35
i=0
for f in $(ls "$x"/usr/share/games/supertux2/sounds/*.wav | awk 'NR%3==1' | head -24); do
  sox "$f" -r 44100 -c 1 -b 16 "$work/st_$(printf %02d $i).wav" pad 0 0.25; i=$((i+1))
done
sox "$work"/st_*.wav "$a/sfx_supertux_44k_mono.wav" trim 0 25
fd=$x/usr/share/sounds/freedesktop/stereo
for f in bell complete dialog-error dialog-information dialog-warning message-new-instant \
    phone-incoming-call phone-outgoing-calling service-login service-logout suspend-error \
    window-attention camera-shutter device-added trash-empty network-connectivity-established; do
  sox "$fd/$f.oga" -r 48000 -c 2 -b 16 "$work/fd_$f.wav" pad 0 0.25
done
sox "$work"/fd_*.wav "$a/sfx_freedesktop_48k_stereo.wav"
for f in front-left front-center front-right rear-left rear-center rear-right side-left side-right; do
  sox "$fd/audio-channel-$f.oga" -r 48000 -c 1 -b 16 "$work/v_$f.wav" pad 0 0.3
done
sox "$work"/v_*.wav "$a/sp_freedesktop_voice_48k_mono.wav"
for lang in fr de; do
  j=0
  for f in $(ls "$x/usr/share/klettres/$lang/alpha/"*.ogg | head -40); do
    sox "$f" -r 44100 -c 1 -b 16 "$work/k${lang}_$(printf %02d $j).wav" pad 0 0.15; j=$((j+1))
  done
done
sox "$work"/kfr_*.wav "$a/sp_klettres_fr_44k_mono.wav" trim 0 20
sox "$work"/kde_*.wav -r 22050 "$a/sp_klettres_de_22k_mono.wav" trim 0 20
ls -l "$out/image/extra" "$out/audio/extra"
