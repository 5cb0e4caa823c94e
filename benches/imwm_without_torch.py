"""Runs the shared image harness (shared/harness/image/bench.py) where `torch` is missing.

invisible-watermark's package imports its rivaGan module, and so torch, when it is loaded,
although the dwtDct and dwtDctSvd methods never use it. This puts an empty stand-in for
`imwatermark.rivaGan` in sys.modules and then runs bench.py with the given arguments, so the
dwtDct peer can be measured beside provmark in the same run:

    cd <harness checkout root> && .venv/bin/python <repo>/benches/imwm_without_torch.py \
        --corpus corpus/image/dev --out results/speed --system imwm-dwtDct \
        --system cli --cli-name provmark --cli-bits 64 --embed-cmd '...' --detect-cmd '...' \
        --jobs 1 --attacks none --fpr-attacks none

The script runs `harness/image/bench.py` or, failing that, `image/bench.py` below the current
folder. Selecting `imwm-rivaGan` fails with a clear error.
"""
import os
import runpy
import sys
import types

stand_in = types.ModuleType("imwatermark.rivaGan")


class RivaWatermark:  # pylint: disable=too-few-public-methods
    """Never used by dwtDct; fails loudly if selected."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("rivaGan is unavailable: torch is not installed")


stand_in.RivaWatermark = RivaWatermark
sys.modules["imwatermark.rivaGan"] = stand_in
bench = next(p for p in ("harness/image/bench.py", "image/bench.py") if os.path.exists(p))
sys.argv = [bench] + sys.argv[1:]
runpy.run_path(bench, run_name="__main__")
