"""A simple DVS (dynamic vision sensor) emulator: a static image watched by a moving sensor.

:func:`emulate` turns a grey-level image into an :class:`~chipsim.data.events.EventStream`,
the way N-MNIST (sensor moved in saccades, Orchard et al. 2015) and CIFAR10-DVS (image moved on
an LCD along a repeated closed-loop smooth path, Li et al. 2017) were recorded, but without a
camera. It is used to build offline stand-in data sets (:mod:`chipsim.data.standin`); it is a
model, not a replacement for real recordings.

Model (the usual idealised DVS pixel, as in v2e — Hu, Liu, Delbruck, CVPR-W 2021 — and the
event-camera survey of Gallego et al., IEEE TPAMI 2022):

* **Scene.** The sensor pixel ``(x, y)`` sees the image at ``(x + dx(t), y + dy(t))``, where
  ``(dx, dy)`` is the displacement of the chosen ``path`` (a pure translation). The image is
  resampled with **bilinear** interpolation; outside the image the edge value is repeated
  (``params['outside'] = None``) or a constant grey level is used. Photocurrent is taken
  proportional to the grey level; the pixel works on ``L = log(I + eps)``.
* **Time.** The scene is sampled at fixed steps of at most ``dt_s`` (default 1 ms), refined
  so that the image never moves more than ``max_shift_px`` (default 0.25 px) within one step.
  Between two samples ``L`` is taken to vary linearly, so event times are interpolated inside
  the step (integer µs).
* **Events.** Each pixel memorises the log intensity ``L_mem`` at its last event (at ``t = 0``:
  the first sample, no event). Whenever ``L - L_mem >= C_on`` it emits an ON event and
  ``L_mem += C_on``; whenever ``L - L_mem <= -C_off`` an OFF event and ``L_mem -= C_off``.
  A change of several thresholds within one step gives several events, each at the
  interpolated time its level is crossed.
* **Mismatch.** Per-pixel thresholds ``C_on ~ N(C0_on, sigma * C0_on)`` and
  ``C_off ~ N(C0_off, sigma * C0_off)`` drawn once per call from ``rng`` (clipped at
  ``0.01``).
* **Refractory period.** After an event a pixel cannot emit for ``refractory_s``. A crossing
  that falls inside that time is postponed (``L_mem`` is not moved), so it fires as soon as the
  period ends if the change is still there (v2e's convention). No two events of one pixel are
  closer than ``refractory_s`` (rounded up to whole µs).
* **Shot noise.** Background events at ``noise_rate_hz`` per pixel (Poisson, uniform over
  pixels and time, ON with probability ``noise_on_fraction``), drawn from ``rng``. They obey
  and restart the refractory period but do not move ``L_mem``.

Parameters (``params`` dict; every key optional) and defaults:

=====================  ==========  ==================================================
key                    default     meaning / source
=====================  ==========  ==================================================
``c_on``, ``c_off``    0.25        contrast thresholds on ``log I`` (typical values,
                                   0.2–0.3 in v2e / Gallego et al.; not measured here)
``sigma``              0.03        relative threshold mismatch (typical ~3 %)
``refractory_s``       1e-3        refractory period (typical ~1 ms)
``noise_rate_hz``      0.1         shot-noise rate per pixel (typical 0.1–1 Hz range of
                                   v2e examples; an assumption)
``noise_on_fraction``  0.5         share of noise events that are ON
``eps``                1e-3        offset in ``log(I + eps)`` (dark level; assumption)
``dt_s``               1e-3        largest time step
``max_shift_px``       0.25        largest image displacement within one step
``amplitude_px``       3.0         path size: circle radius ('loop') / triangle side
                                   ('saccades'), in sensor pixels
``loops``              2           'loop': number of turns of the circle in ``duration_s``
``outside``            None        grey level outside the image (None: repeat the edge)
=====================  ==========  ==================================================

These are typical literature values, not a calibration of any particular camera.
:mod:`chipsim.data.standin` adjusts the threshold to match published event counts.

Paths (displacement in pixels, ``t`` in ``[0, duration_s]``):

* ``'loop'``: a circle of radius ``amplitude_px`` run ``loops`` times at constant angular
  speed, starting and ending at the start point — a repeated closed-loop smooth path like the
  CIFAR10-DVS LCD movement (whose exact path is not reproduced here).
* ``'saccades'``: three straight moves along the sides of an equilateral triangle of side
  ``amplitude_px``, each taking a third of ``duration_s`` with a raised-cosine speed profile
  (N-MNIST style: 3 saccades; ~100 ms each for ``duration_s = 0.3``).
* ``'static'``: no movement (noise only); useful for tests.
* a callable ``f(t_s) -> (dx, dy)`` (arrays of the shape of ``t_s``, pixels): any path.

Deterministic: the same image, arguments and ``rng`` state give the same events.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.errors import ChipsimError

PATHS = ("loop", "saccades", "static")

DEFAULT_PARAMS: dict[str, float | None] = {
    "c_on": 0.25,
    "c_off": 0.25,
    "sigma": 0.03,
    "refractory_s": 1e-3,
    "noise_rate_hz": 0.1,
    "noise_on_fraction": 0.5,
    "eps": 1e-3,
    "dt_s": 1e-3,
    "max_shift_px": 0.25,
    "amplitude_px": 3.0,
    "loops": 2,
    "outside": None,
}


def _params(params: dict | None) -> dict:
    p = dict(DEFAULT_PARAMS)
    if params:
        unknown = set(params) - set(DEFAULT_PARAMS)
        if unknown:
            raise ChipsimError(f"unknown emulator parameter(s) {sorted(unknown)}", field="params",
                               expected="keys among " + ", ".join(DEFAULT_PARAMS))
        p.update(params)
    for key in ("c_on", "c_off", "eps", "dt_s", "max_shift_px"):
        if not (isinstance(p[key], numbers.Real) and p[key] > 0):
            raise ChipsimError(f"{key} is {p[key]!r}", field=key, expected="a number > 0")
    for key in ("sigma", "refractory_s", "noise_rate_hz", "amplitude_px", "loops"):
        if not (isinstance(p[key], numbers.Real) and p[key] >= 0):
            raise ChipsimError(f"{key} is {p[key]!r}", field=key, expected="a number >= 0")
    if not 0 <= p["noise_on_fraction"] <= 1:
        raise ChipsimError(f"noise_on_fraction is {p['noise_on_fraction']!r}",
                           field="noise_on_fraction", expected="a number in [0, 1]")
    return p


def path_displacement(path: str, t_s: np.ndarray, duration_s: float, p: dict
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Displacement ``(dx, dy)`` in pixels of the image under the sensor at times ``t_s``."""
    if callable(path):
        dx, dy = path(np.asarray(t_s, dtype=np.float64))
        return (np.broadcast_to(np.asarray(dx, dtype=np.float64), np.shape(t_s)).copy(),
                np.broadcast_to(np.asarray(dy, dtype=np.float64), np.shape(t_s)).copy())
    a = float(p["amplitude_px"])
    u = np.clip(np.asarray(t_s, dtype=np.float64) / duration_s, 0.0, 1.0)
    if path == "static":
        return np.zeros_like(u), np.zeros_like(u)
    if path == "loop":
        phi = 2 * np.pi * float(p["loops"]) * u
        return a * (np.cos(phi) - 1.0), a * np.sin(phi)      # starts (and ends) at (0, 0)
    if path == "saccades":
        verts = a * np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 0.0]])
        seg = np.minimum((u * 3).astype(np.int64), 2)
        s = u * 3 - seg
        w = 0.5 - 0.5 * np.cos(np.pi * s)                     # raised-cosine speed profile
        pos = verts[seg] + w[:, None] * (verts[seg + 1] - verts[seg])
        return pos[:, 0], pos[:, 1]
    raise ChipsimError(f"path is {path!r}", field="path",
                       expected="one of " + ", ".join(repr(q) for q in PATHS))


class _Sampler:
    """Bilinear resampling of a fixed image at a translated sensor grid.

    The image is padded once (edge values, or the constant ``outside``) by enough pixels for
    the largest displacement, so every sample is four slices of the padded image.
    """

    def __init__(self, image: np.ndarray, width: int, height: int, outside, max_shift: float):
        m = int(math.ceil(max_shift)) + 2
        h_img, w_img = image.shape
        # the sensor may be larger than the image: pad to cover the whole sensor as well
        pad_y = (m, m + max(0, height - h_img))
        pad_x = (m, m + max(0, width - w_img))
        if outside is None:
            self.pad = np.pad(image, (pad_y, pad_x), mode="edge")
        else:
            self.pad = np.pad(image, (pad_y, pad_x), constant_values=float(outside))
        self.m = m
        self.width, self.height = width, height

    def __call__(self, dx: float, dy: float) -> np.ndarray:
        ix, iy = math.floor(dx), math.floor(dy)
        fx, fy = dx - ix, dy - iy
        x0, y0 = self.m + ix, self.m + iy
        w, h, a = self.width, self.height, self.pad
        top = a[y0:y0 + h, x0:x0 + w] * (1 - fx) + a[y0:y0 + h, x0 + 1:x0 + 1 + w] * fx
        bot = a[y0 + 1:y0 + 1 + h, x0:x0 + w] * (1 - fx) + a[y0 + 1:y0 + 1 + h, x0 + 1:x0 + 1 + w] * fx
        return top * (1 - fy) + bot * fy


def emulate(image: np.ndarray, sensor: tuple[int, int] = (128, 128), duration_s: float = 1.2,
            path="loop", rng: np.random.Generator | None = None,
            params: dict | None = None) -> EventStream:
    """Events of a DVS of ``sensor = (W, H)`` pixels watching ``image`` move along ``path``.

    ``image`` is a 2-D ``(H_img, W_img)`` array of grey levels in ``[0, 1]`` (sensor pixel
    ``(x, y)`` looks at image pixel ``(x, y)`` at rest; the image may be larger or smaller than
    the sensor). ``rng`` (a ``numpy.random.Generator``; default ``default_rng(0)``) draws the
    threshold mismatch and the noise. ``params`` overrides :data:`DEFAULT_PARAMS` (see the
    module docstring for the model). Returns an :class:`EventStream` with
    ``sensor_size = (W, H, 2)`` and events sorted by time (ties: by pixel), times in µs from
    0 to ``duration_s``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or img.size == 0 or not np.isfinite(img).all():
        raise ChipsimError(f"image has shape {img.shape}", field="image",
                           expected="a finite 2-D (H, W) array")
    if img.min() < 0 or img.max() > 1:
        raise ChipsimError(f"image values span [{img.min():.3g}, {img.max():.3g}]",
                           field="image", expected="grey levels in [0, 1]")
    try:
        width, height = (int(s) for s in sensor)
    except (TypeError, ValueError):
        width = height = 0
    if width < 1 or height < 1:
        raise ChipsimError(f"sensor is {sensor!r}", field="sensor",
                           expected="(W, H), two positive integers")
    if not (isinstance(duration_s, numbers.Real) and duration_s > 0):
        raise ChipsimError(f"duration_s is {duration_s!r}", field="duration_s",
                           expected="a number > 0")
    if not callable(path) and path not in PATHS:
        raise ChipsimError(f"path is {path!r}", field="path",
                           expected="one of " + ", ".join(repr(q) for q in PATHS))
    p = _params(params)
    if rng is None:
        rng = np.random.default_rng(0)
    duration_us = int(round(duration_s * 1e6))
    n_pix = width * height

    # -- time grid: steps of <= dt_s, refined until no step moves the image > max_shift_px
    n_steps = max(1, int(math.ceil(duration_s / p["dt_s"])))
    while True:
        t_us = np.round(np.linspace(0, duration_us, n_steps + 1)).astype(np.int64)
        dx, dy = path_displacement(path, t_us * 1e-6, duration_s, p)
        shift = np.hypot(np.diff(dx), np.diff(dy)).max(initial=0.0)
        if shift <= p["max_shift_px"] or n_steps >= duration_us:
            break
        n_steps = min(duration_us, int(math.ceil(n_steps * shift / p["max_shift_px"] * 1.01)))

    # -- per-pixel thresholds (mismatch), drawn first so they do not depend on the noise
    sig = float(p["sigma"])
    c_on = np.maximum(rng.normal(p["c_on"], sig * p["c_on"], n_pix), 0.01)
    c_off = np.maximum(rng.normal(p["c_off"], sig * p["c_off"], n_pix), 0.01)
    refr_us = int(math.ceil(p["refractory_s"] * 1e6 - 1e-9))
    eps = float(p["eps"])
    noise_per_step = p["noise_rate_hz"] * n_pix * np.diff(t_us) * 1e-6

    sampler = _Sampler(img, width, height, p["outside"],
                       float(max(np.abs(dx).max(), np.abs(dy).max())))
    l_prev = np.log(sampler(dx[0], dy[0]) + eps).ravel()
    l_mem = l_prev.copy()
    never = np.int64(-(2 ** 62))
    t_last = np.full(n_pix, never, dtype=np.int64)
    out_t: list[np.ndarray] = []
    out_i: list[np.ndarray] = []
    out_p: list[np.ndarray] = []

    for k in range(n_steps):
        t0, t1 = int(t_us[k]), int(t_us[k + 1])
        span = t1 - t0
        if isinstance(path, str) and path == "static":
            l_new = l_prev
        else:
            l_new = np.log(sampler(dx[k + 1], dy[k + 1]) + eps).ravel()
        d_step = l_new - l_prev
        # candidate pixels only: those whose change from L_mem crosses a threshold at step end
        diff = l_new - l_mem
        idx = np.flatnonzero((diff >= c_on) | (diff <= -c_off))
        while idx.size:
            diff = l_new[idx] - l_mem[idx]
            on = diff >= c_on[idx]
            c = np.where(on, c_on[idx], -c_off[idx])
            level = l_mem[idx] + c
            ds = d_step[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(ds != 0, (level - l_prev[idx]) / ds, 0.0)
            frac = np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0)
            t_c = t0 + np.ceil(frac * span).astype(np.int64)
            t_e = np.maximum(t_c, t_last[idx] + refr_us)
            fire = t_e <= t1
            if not fire.any():
                break
            idx_f = idx[fire]
            out_t.append(t_e[fire])
            out_i.append(idx_f)
            out_p.append(on[fire].astype(np.int8))
            l_mem[idx_f] += c[fire]
            t_last[idx_f] = t_e[fire]
            diff_f = l_new[idx_f] - l_mem[idx_f]
            idx = idx_f[(diff_f >= c_on[idx_f]) | (diff_f <= -c_off[idx_f])]
        # shot noise in (t0, t1]
        if noise_per_step[k] > 0:
            n = int(rng.poisson(noise_per_step[k]))
            if n:
                pix = rng.integers(0, n_pix, n)
                tn = t0 + 1 + rng.integers(0, max(span, 1), n)
                pol = (rng.random(n) < p["noise_on_fraction"]).astype(np.int8)
                order = np.argsort(tn, kind="stable")
                pix, tn, pol = pix[order], tn[order], pol[order]
                # a pixel hit twice in one step: keep the events refractory allows, in time order
                for j in range(n):        # n is tiny (rate x pixels x dt); not a per-event hot loop
                    i = pix[j]
                    if tn[j] >= t_last[i] + refr_us:
                        t_last[i] = tn[j]
                        out_t.append(tn[j:j + 1])
                        out_i.append(pix[j:j + 1])
                        out_p.append(pol[j:j + 1])
        l_prev = l_new

    if out_t:
        t_all = np.concatenate(out_t)
        i_all = np.concatenate(out_i)
        p_all = np.concatenate(out_p)
    else:
        t_all = np.zeros(0, np.int64)
        i_all = np.zeros(0, np.int64)
        p_all = np.zeros(0, np.int8)
    order = np.lexsort((i_all, t_all))
    ev = np.zeros(t_all.size, dtype=EVENT_DTYPE)
    ev["t"] = t_all[order]
    ev["x"] = (i_all[order] % width).astype(np.int16)
    ev["y"] = (i_all[order] // width).astype(np.int16)
    ev["p"] = p_all[order]
    return EventStream(ev, (width, height, 2))
