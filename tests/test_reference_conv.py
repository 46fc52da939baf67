"""Checks of the standalone conv-SNN reference (tests/reference_conv.py) against independent
computations: the dense reference, direct convolution loops, reshape pooling, finite differences,
the TET loss, and identities between the rules."""

from __future__ import annotations

import numpy as np
import pytest

from tests import reference as ref
from tests import reference_conv as rc

NRN = {
    "ottt": dict(lam=0.5, theta=1.0, reset="soft", detach=True, h0=1, decay_input=False,
                 sg="sigmoid", alpha=4.0),
    "sltt": dict(lam=1 - 1 / 1.1, theta=1.0, reset="soft", detach=False, h0=1, decay_input=False,
                 sg="triangle", alpha=1.0),
    "tet": dict(lam=0.5, theta=1.0, reset="hard", detach=False, h0=0, decay_input=False,
                sg="triangle", alpha=1.0),
}

# A: conv s1 -> dropout -> avgpool (floor drops a column) -> conv -> maxpool (floor drops a row)
#    -> flatten -> dense -> readout.   B: strided conv -> dropout -> maxpool -> conv k2 -> avgpool.
NETS = {
    "A": ((10, 9, 2), [dict(kind="conv", cout=4, k=3, stride=1, pad=1, bias=True), dict(kind="dropout"),
                       dict(kind="avgpool", size=2),
                       dict(kind="conv", cout=4, k=3, stride=1, pad=1, bias=False),
                       dict(kind="maxpool", size=2), dict(kind="flatten"),
                       dict(kind="dense", units=6, bias=True)]),
    "B": ((9, 7, 2), [dict(kind="conv", cout=3, k=3, stride=2, pad=1, bias=True), dict(kind="dropout"),
                      dict(kind="maxpool", size=2),
                      dict(kind="conv", cout=4, k=2, stride=1, pad=1, bias=False),
                      dict(kind="avgpool", size=2)]),
}
C = 5


def conv_problem(name="A", seed=0, T=5, B=2, gain=2.5, density=0.3, read_bias=True, p=0.25):
    shape, ops = NETS[name]
    rng = np.random.default_rng(seed)
    net = rc.build_net(ops, shape, C)
    Ws, bs = [], []
    for layer in net:
        Ws.append(rng.normal(size=layer["wshape"]) * gain / np.sqrt(layer["wshape"][0]))
        has_b = layer["op"].get("bias", read_bias)
        bs.append(rng.normal(size=layer["wshape"][1]) * 0.2 if has_b else None)
    X = (rng.random((B, T) + shape) < density).astype(np.float64)
    Y = rng.integers(0, C, size=B)
    masks = []
    for op in ops:
        if op["kind"] == "dropout":
            pop = [l for l in net if l["pre"] and any(tr["kind"] == "dropout" for tr in l["pre"])][0]
            dshape = [tr for tr in pop["pre"] if tr["kind"] == "dropout"][0]["in_shape"]
            masks.append((rng.random((B,) + dshape) > p) / (1 - p))
    return ops, Ws, bs, X, Y, masks


def one(masks, b):
    return [m[b] for m in masks]


def total_loss(ops, Ws, bs, x, y, nrn, masks, a=0.05, target="onehot"):
    fw = rc.forward(ops, Ws, bs, x, nrn, masks)
    T = fw["o"].shape[0]
    return sum(rc.step_loss(fw["o"][t], y, T, a, target)[0] for t in range(T))


def assert_grads(g1, g2, atol=1e-12):
    for l, (a, b) in enumerate(zip(g1, g2)):
        if a is None or b is None:
            assert a is None and b is None, f"layer {l}"
            continue
        np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=f"layer {l}")


def assert_spiking(rec):
    rates = [s.mean() for s in rec["s"]]
    assert all(0.0 < r < 0.9 for r in rates), f"test network must spike in every layer: {rates}"


# ----------------------------------------------------------------------------- dense special case


def dense_problem(seed, n_in=30, hidden=(16, 12), T=6, gain=4.0):
    rng = np.random.default_rng(seed)
    sizes = [n_in, *hidden, C]
    Ws = [rng.normal(size=(a, b)) * gain / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(size=b) * 0.2 for b in sizes[1:]]
    x = (rng.random((T, n_in)) < 0.3).astype(np.float64)
    ops = [dict(kind="dense", units=h, bias=True) for h in hidden]
    return ops, Ws, bs, x, int(rng.integers(0, C))


@pytest.mark.parametrize("preset", ["ottt", "sltt", "tet"])
def test_dense_special_case_matches_dense_reference(preset):
    ops, Ws, bs, x, y = dense_problem(3)
    for detach in (True, False):
        for decay_input in (False, True):
            nrn = dict(NRN[preset], detach=detach, decay_input=decay_input)
            gW, gb, loss, osum, diag = ref.grads_bptt(Ws, bs, x, y, nrn)
            r = rc.grads_bptt(ops, Ws, bs, x, y, nrn)
            assert_grads(r["gW"], gW)
            assert_grads(r["gb"], gb)
            assert r["loss"] == pytest.approx(loss, abs=1e-12)
            np.testing.assert_allclose(r["o"].sum(0), osum, atol=1e-12)
            assert_grads(r["rec"]["g"], diag["gs"])
    for decay_input in (False, True):
        nrn = dict(NRN[preset], decay_input=decay_input, lam=0.6 if decay_input else NRN[preset]["lam"])
        assert sum(s.sum() for s in ref.forward(Ws, bs, x, nrn)[1]) > 0
        gW, gb, loss, _, diag = ref.grads_spatial(Ws, bs, x, y, nrn)
        r = rc.grads_sltt(ops, Ws, bs, x, y, nrn)
        assert_grads(r["gW"], gW)
        assert_grads(r["gb"], gb)
        assert_grads(r["rec"]["g"], diag["gs"])
        gW, gb, *_ = ref.grads_spatial(Ws, bs, x, y, nrn, steps={1, 4})
        assert_grads(rc.grads_sltt(ops, Ws, bs, x, y, nrn, steps=[1, 4])["gW"], gW)
        for first in (False, True):
            gW, gb, loss, _, diag = ref.grads_spatial(Ws, bs, x, y, nrn, trace_decay=0.5, first_trace=first)
            r = rc.grads_ottt(ops, Ws, bs, x, y, nrn, 0.5, first_trace=first)
            assert_grads(r["gW"], gW)
            assert_grads(r["gb"], gb)
            assert_grads(r["rec"]["pre"], diag["traces"])
        W2, b2, loss, osum = ref.ottt_online(Ws, bs, x, y, nrn, lr=0.3, trace_decay=0.5)
        r = rc.ottt_online(ops, Ws, bs, x, y, nrn, lr=0.3, trace_decay=0.5)
        assert_grads(r["W"], W2)
        assert_grads(r["b"], b2)
        assert r["loss"] == pytest.approx(loss, abs=1e-12)
        np.testing.assert_allclose(r["o"][0].sum(0), osum, atol=1e-12)


# ----------------------------------------------------------------------------- forward building blocks


def direct_conv(x, W, b, k, s, p):
    """Direct convolution: loops over output rows, columns and channels, window read from a
    zero-padded copy; W (k*k*Cin, Cout) viewed as (ky, kx, ci, co)."""
    H, Wd, Ci = x.shape
    Co = W.shape[1]
    Wk = W.reshape(k, k, Ci, Co)
    xp = np.zeros((H + 2 * p, Wd + 2 * p, Ci))
    xp[p:p + H, p:p + Wd] = x
    Ho, Wo = (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1
    out = np.zeros((Ho, Wo, Co))
    for oy in range(Ho):
        for ox in range(Wo):
            win = xp[oy * s:oy * s + k, ox * s:ox * s + k, :]
            for co in range(Co):
                out[oy, ox, co] = np.sum(win * Wk[:, :, :, co]) + (0.0 if b is None else b[co])
    return out


def pool(x, k, how):
    H, W, Cc = x.shape
    v = x[:H // k * k, :W // k * k].reshape(H // k, k, W // k, k, Cc)
    return v.mean(axis=(1, 3)) if how == "avg" else v.max(axis=(1, 3))


@pytest.mark.parametrize("shape,k,s,p", [((5, 5, 1), 3, 1, 1), ((7, 6, 2), 3, 2, 1), ((6, 9, 3), 2, 2, 0),
                                         ((4, 5, 2), 3, 1, 2), ((8, 7, 2), 5, 3, 2), ((3, 3, 2), 1, 1, 0)])
def test_conv_matrix_matches_direct_convolution(shape, k, s, p):
    rng = np.random.default_rng(1)
    cout = 3
    W = rng.normal(size=(k * k * shape[2], cout))
    b = rng.normal(size=cout)
    x = rng.normal(size=shape)
    M, out_shape = rc.conv_matrix(W, shape, k, s, p)
    want = direct_conv(x, W, b, k, s, p)
    assert out_shape == want.shape
    got = (x.reshape(-1) @ M).reshape(out_shape) + b
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape,k", [((4, 4, 2), 2), ((7, 5, 3), 2), ((9, 8, 1), 3), ((5, 6, 2), 5)])
def test_pools_match_reshape(shape, k):
    x = np.random.default_rng(2).normal(size=shape)
    P, out = rc.avgpool_matrix(shape, k)
    np.testing.assert_allclose((x.reshape(-1) @ P).reshape(out), pool(x, k, "avg"), atol=1e-14)
    R, out = rc.maxpool_matrix(x.reshape(-1), shape, k)
    np.testing.assert_array_equal((x.reshape(-1) @ R).reshape(out), pool(x, k, "max"))
    assert np.all(R.sum(0) == 1)


def test_maxpool_tie_rule_first_maximum_in_scan_order():
    # one 2x2 window per case, one channel; expected winner index dy*2+dx
    cases = [([0, 0, 0, 0], 0), ([0, 1, 1, 1], 1), ([0, 0, 1, 1], 2), ([1, 0, 1, 0], 0),
             ([0, 0, 0, 1], 3), ([0.5, 2, 2, -1], 1)]
    for vals, win in cases:
        x = np.array(vals, float).reshape(2, 2, 1)
        R, _ = rc.maxpool_matrix(x.reshape(-1), (2, 2, 1), 2)
        assert np.argmax(R[:, 0]) == win, vals
    # two channels, 4x4 -> 2x2: channel 0 all zero (winner (0,0) of each window), channel 1 ones
    # at (1,1) and (0,1) of the top-left window -> (0,1)
    x = np.zeros((4, 4, 2))
    x[1, 1, 1] = x[0, 1, 1] = 1
    R, _ = rc.maxpool_matrix(x.reshape(-1), (4, 4, 2), 2)
    for oy in range(2):
        for ox in range(2):
            j = (oy * 2 + ox) * 2
            assert np.argmax(R[:, j]) == ((2 * oy) * 4 + 2 * ox) * 2
    assert np.argmax(R[:, 1]) == (0 * 4 + 1) * 2 + 1


def test_maxpool_backward_routes_to_window_origin_when_silent():
    """Network level: no spikes below a maxpool -> its gradient reaches only window position (0,0)."""
    ops = [dict(kind="conv", cout=2, k=3, stride=1, pad=1, bias=False), dict(kind="maxpool", size=2)]
    rng = np.random.default_rng(4)
    Ws = [rng.normal(size=(18, 2)) * 0.1, rng.normal(size=(2 * 2 * 2, C))]
    x = (rng.random((3, 4, 5, 2)) < 0.5).astype(float)          # 4x5 map, floor drops column 4
    nrn = dict(NRN["ottt"], detach=False)
    r = rc.grads_bptt(ops, Ws, [None, None], x, 1, nrn)
    assert r["rec"]["s"][0].sum() == 0
    g = r["rec"]["g"][0].reshape(3, 4, 5, 2)
    origin = np.zeros((4, 5), bool)
    origin[0::2, 0:4:2] = True
    assert np.all(g[:, ~origin, :] == 0)
    assert np.all(g[:, origin, :] != 0)


def direct_forward(ops, Ws, bs, x, nrn, masks):
    """Independent forward: direct convolution, reshape pooling, elementwise dropout."""
    T = x.shape[0]
    lam, th = nrn["lam"], nrn["theta"]
    cin = 1 - lam if nrn["decay_input"] else 1.0
    n_lif = sum(op["kind"] in ("conv", "dense") for op in ops)
    v = [None] * n_lif
    us, ss = [[] for _ in range(n_lif)], [[] for _ in range(n_lif)]
    o = []
    for t in range(T):
        a = x[t]
        li, di = 0, 0
        for op in ops:
            if op["kind"] in ("conv", "dense"):
                if op["kind"] == "conv":
                    I = direct_conv(a, Ws[li], bs[li], op["k"], op.get("stride", 1), op.get("pad", 0))
                else:
                    I = a.reshape(-1) @ Ws[li] + (0 if bs[li] is None else bs[li])
                u = (0 if v[li] is None else lam * v[li]) + cin * I
                s = rc.heaviside(u - th, nrn["h0"])
                v[li] = u - th * s if nrn["reset"] == "soft" else (1 - s) * u
                us[li].append(u.reshape(-1))
                ss[li].append(s.reshape(-1))
                a, li = s, li + 1
            elif op["kind"] == "avgpool":
                a = pool(a, op["size"], "avg")
            elif op["kind"] == "maxpool":
                a = pool(a, op["size"], "max")
            elif op["kind"] == "dropout":
                a = a * masks[di]
                di += 1
        o.append(a.reshape(-1) @ Ws[-1] + (0 if bs[-1] is None else bs[-1]))
    return [np.array(u) for u in us], [np.array(s) for s in ss], np.array(o)


@pytest.mark.parametrize("name", ["A", "B"])
@pytest.mark.parametrize("preset", ["ottt", "tet"])
def test_network_forward_matches_direct_forward(name, preset):
    ops, Ws, bs, X, Y, masks = conv_problem(name, seed=5, gain=7.0 if preset == "tet" else 2.5)
    nrn = dict(NRN[preset], decay_input=preset == "tet", lam=0.6)
    fw = rc.forward(ops, Ws, bs, X[0], nrn, one(masks, 0))
    us, ss, o = direct_forward(ops, Ws, bs, X[0], nrn, one(masks, 0))
    for l in range(len(us)):
        np.testing.assert_allclose(fw["u"][l], us[l], atol=1e-12)
        np.testing.assert_array_equal(fw["s"][l], ss[l])
    np.testing.assert_allclose(fw["o"], o, atol=1e-12)
    assert all(s.sum() > 0 for s in ss)


# ----------------------------------------------------------------------------- finite differences


def fd_check(ops, Ws, bs, x, y, nrn, masks, grads, which, eps=1e-4, n_pick=6, seed=0, a=0.05,
             target="onehot"):
    """Central differences of the summed loss at some entries of each parameter in `which`;
    returns the largest |analytic - numeric| / (|numeric| + 1e-5) (eps = 1e-4: truncation error
    ~1e-12 here, round-off ~1e-12; hidden-layer gradients are ~1e-5..1e-3)."""
    gW, gb = grads
    rng = np.random.default_rng(seed)
    worst = 0.0
    for kind, l in which:
        P = Ws if kind == "W" else bs
        G = gW if kind == "W" else gb
        idx = rng.choice(P[l].size, size=min(n_pick, P[l].size), replace=False)
        for i in idx:
            vals = []
            for sgn in (1, -1):
                Pc = [p.copy() if p is not None else None for p in P]
                Pc[l].flat[i] += sgn * eps
                args = (Pc, bs) if kind == "W" else (Ws, Pc)
                vals.append(total_loss(ops, *args, x, y, nrn, masks, a, target))
            num = (vals[0] - vals[1]) / (2 * eps)
            worst = max(worst, abs(G[l].flat[i] - num) / (abs(num) + 1e-5))
    return worst


@pytest.mark.parametrize("name", ["A", "B"])
def test_readout_gradient_is_the_exact_derivative(name):
    """Perturbing the readout leaves every spike unchanged, so BPTT's and SLTT's readout gradient
    (W and b) must equal the numerical derivative of the loss even in a spiking network."""
    ops, Ws, bs, X, Y, masks = conv_problem(name, seed=6)
    nrn, L = NRN["sltt"], len(Ws)
    for fn in (rc.grads_bptt, rc.grads_sltt):
        r = fn(ops, Ws, bs, X[0], Y[0], nrn, target=1.0, masks=one(masks, 0))
        assert_spiking(r["rec"])
        err = fd_check(ops, Ws, bs, X[0], Y[0], nrn, one(masks, 0), (r["gW"], r["gb"]),
                       [("W", L - 1), ("b", L - 1)], n_pick=12, target=1.0)
        assert err < 1e-6


SMOOTH = dict(lam=0.6, theta=1.0, h0=1, sg="sigmoid", alpha=4.0, spike="smooth")


@pytest.mark.parametrize("name", ["A", "B"])
@pytest.mark.parametrize("reset,decay_input", [("soft", False), ("hard", False), ("soft", True), ("hard", True)])
def test_bptt_is_exact_gradient_with_smooth_spikes(name, reset, decay_input):
    """With s = sigmoid(alpha(u - theta)) in the forward (its derivative is the sigmoid surrogate),
    undetached BPTT is the true gradient: every layer's W and b (conv kernels gathered from the
    dense matrices, dropout, avg/max pool routing, leak, soft/hard reset) must match central
    differences."""
    ops, Ws, bs, X, Y, masks = conv_problem(name, seed=7, gain=2.0)
    nrn = dict(SMOOTH, reset=reset, detach=False, decay_input=decay_input)
    r = rc.grads_bptt(ops, Ws, bs, X[0], Y[0], nrn, masks=one(masks, 0))
    which = [("W", l) for l in range(len(Ws))] + [("b", l) for l in range(len(bs)) if bs[l] is not None]
    err = fd_check(ops, Ws, bs, X[0], Y[0], nrn, one(masks, 0), (r["gW"], r["gb"]), which)
    assert err < 1e-5


def test_finite_difference_check_has_power():
    """Negative controls: detaching the reset, or dropping the temporal route (SLTT), is not the
    true gradient of the smooth network, and the same check must notice."""
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=7, gain=2.0)
    which = [("W", 0), ("W", 1)]
    nrn = dict(SMOOTH, reset="soft", detach=True, decay_input=False)
    r = rc.grads_bptt(ops, Ws, bs, X[0], Y[0], nrn, masks=one(masks, 0))
    assert fd_check(ops, Ws, bs, X[0], Y[0], nrn, one(masks, 0), (r["gW"], r["gb"]), which) > 1e-3
    nrn = dict(nrn, detach=False)
    r = rc.grads_sltt(ops, Ws, bs, X[0], Y[0], nrn, masks=one(masks, 0))
    assert fd_check(ops, Ws, bs, X[0], Y[0], nrn, one(masks, 0), (r["gW"], r["gb"]), which) > 1e-3


# ----------------------------------------------------------------------------- TET loss


def test_tet_loss_equals_per_step_form():
    rng = np.random.default_rng(8)
    B, T, lam, phi = 3, 4, 0.3, 1.0
    O = rng.normal(size=(B, T, C)) * 2
    y = rng.integers(0, C, size=B)
    per_step = np.mean([sum(rc.step_loss(O[b, t], y[b], T, lam, phi)[0] for t in range(T)) for b in range(B)])
    assert rc.tet_loss(O, y, lam, phi) == pytest.approx(per_step, abs=1e-12)
    # and the per-step gradient / B is the derivative of the TET loss
    eps = 1e-6
    for (b, t, c) in [(0, 0, 0), (1, 2, 3), (2, 3, 4)]:
        Op, Om = O.copy(), O.copy()
        Op[b, t, c] += eps
        Om[b, t, c] -= eps
        num = (rc.tet_loss(Op, y, lam, phi) - rc.tet_loss(Om, y, lam, phi)) / (2 * eps)
        assert rc.step_loss(O[b, t], y[b], T, lam, phi)[1][c] / B == pytest.approx(num, abs=1e-8)
    # guard: it is not the one-hot form
    assert rc.tet_loss(O, y, lam, phi) != pytest.approx(
        np.mean([sum(rc.step_loss(O[b, t], y[b], T, lam)[0] for t in range(T)) for b in range(B)]))


# ----------------------------------------------------------------------------- identities between rules


def test_sltt_k_and_spatial_identities():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=9)
    x, y, m = X[0], Y[0], one(masks, 0)
    nrn = NRN["ottt"]
    full = rc.grads_sltt(ops, Ws, bs, x, y, nrn, masks=m)
    assert_spiking(full["rec"])
    parts = [rc.grads_sltt(ops, Ws, bs, x, y, nrn, masks=m, steps=[t]) for t in range(5)]
    assert_grads(full["gW"], [sum(p["gW"][l] for p in parts) for l in range(len(Ws))])
    k2 = rc.grads_sltt(ops, Ws, bs, x, y, nrn, masks=m, steps=[1, 3])
    assert_grads(k2["gW"], [parts[1]["gW"][l] + parts[3]["gW"][l] for l in range(len(Ws))])
    assert k2["loss"] == pytest.approx(full["loss"], abs=1e-14)      # divisor stays T
    assert np.all(k2["rec"]["g"][0][[0, 2, 4]] == 0)
    # OTTT with trace decay 0 (any first-layer choice) is SLTT
    for first in (False, True):
        assert_grads(rc.grads_ottt(ops, Ws, bs, x, y, nrn, 0.0, first, masks=m)["gW"], full["gW"])
    # OTTT differs from SLTT with a real trace (guards the previous line)
    o = rc.grads_ottt(ops, Ws, bs, x, y, nrn, 0.5, masks=m)
    assert max(np.abs(a - b).max() for a, b in zip(o["gW"][1:], full["gW"][1:])) > 1e-6
    np.testing.assert_array_equal(o["gW"][0], full["gW"][0])   # raw input at layer 0 (quirk 1)
    # without a temporal route (lam = 0) BPTT is SLTT
    nrn0 = dict(NRN["tet"], lam=0.0)
    assert_grads(rc.grads_bptt(ops, Ws, bs, x, y, nrn0, masks=m)["gW"],
                 rc.grads_sltt(ops, Ws, bs, x, y, nrn0, masks=m)["gW"])


@pytest.mark.parametrize("name", ["A", "B"])
def test_ottt_first_layer_trace_equals_detached_bptt_for_one_hidden_layer(name):
    """One hidden layer, soft reset detached: BPTT's delta[t] = sum_{t'>=t} lam^(t'-t) sg e[t'], so
    BPTT's first-layer gradient equals OTTT's sum_t trace[t] x g[t] with trace decay lam (first_trace)."""
    shape, ops = NETS[name]
    ops = [ops[0], dict(kind="dropout"), dict(kind="avgpool", size=2)]
    rng = np.random.default_rng(10)
    net = rc.build_net(ops, shape, C)
    Ws = [rng.normal(size=l["wshape"]) * 2.5 / np.sqrt(l["wshape"][0]) for l in net]
    bs = [rng.normal(size=3 if name == "B" else 4) * 0.2, rng.normal(size=C)]
    x = (rng.random((6,) + shape) < 0.3).astype(float)
    m = [(rng.random(net[0]["out_shape"]) > 0.2) / 0.8]
    nrn = dict(NRN["ottt"], lam=0.7)
    b = rc.grads_bptt(ops, Ws, bs, x, 2, nrn, masks=m)
    o = rc.grads_ottt(ops, Ws, bs, x, 2, nrn, 0.7, first_trace=True, masks=m)
    assert_spiking(b["rec"])
    np.testing.assert_allclose(o["gW"][0], b["gW"][0], atol=1e-12)
    # the bias is not traced (Replace trick: its gradient is sum_t g[t]); BPTT's bias gradient is
    # the OTTT form with the trace of a constant 1, i.e. sum_t (sum_{k<=t} lam^k) g[t]
    c = np.cumsum(0.7 ** np.arange(6))
    g = o["rec"]["g"][0].reshape(6, -1, bs[0].size).sum(1)        # per channel, summed over positions
    np.testing.assert_allclose(b["gb"][0], (c[:, None] * g).sum(0), atol=1e-12)
    np.testing.assert_allclose(o["gb"][0], g.sum(0), atol=1e-12)
    assert np.abs(o["gW"][1] - b["gW"][1]).max() > 1e-6     # the readout uses the trace in OTTT


def test_ottt_online_batch_steps():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=11)
    nrn = NRN["ottt"]
    # lr = 0: the per-step batch-mean gradients sum to OTTT_A's batch-mean gradient
    r0 = rc.ottt_online(ops, Ws, bs, X, Y, nrn, lr=0.0, trace_decay=0.5, masks=masks)
    A = rc.batch_mean(rc.grads_ottt, ops, Ws, bs, X, Y, nrn, masks=masks, trace_decay=0.5)
    assert_grads([sum(g[0][l] for g in r0["step_grads"]) for l in range(len(Ws))], A["gW"])
    assert r0["loss"] == pytest.approx(A["loss"], abs=1e-12)
    # lr > 0: the first update is OTTT_A's gradient at step 0; later ones use updated weights
    lr = 0.5
    r = rc.ottt_online(ops, Ws, bs, X, Y, nrn, lr=lr, trace_decay=0.5, masks=masks)
    s0 = rc.batch_mean(rc.grads_ottt, ops, Ws, bs, X, Y, nrn, masks=masks, trace_decay=0.5, steps=[0])
    assert_grads(r["step_grads"][0][0], s0["gW"])
    assert_grads(r["step_grads"][0][1], s0["gb"])
    W = [w - lr * sum(g[0][l] for g in r["step_grads"]) for l, w in enumerate(Ws)]
    assert_grads(r["W"], W)
    assert max(np.abs(a[0][1] - b[0][1]).max() for a, b in zip(r["step_grads"][1:], r0["step_grads"][1:])) > 1e-9


# ----------------------------------------------------------------------------- tbptt_local


@pytest.mark.parametrize("name", ["A", "B"])
@pytest.mark.parametrize("preset", ["ottt", "tet", "sltt"])
def test_tbptt_full_window_one_block_equals_bptt(name, preset):
    ops, Ws, bs, X, Y, masks = conv_problem(name, seed=12)
    nrn, lr = NRN[preset], 0.3
    r = rc.tbptt_local(ops, Ws, bs, [], X, Y, nrn, lr=lr, T_L=5, B_L=10, masks=masks)
    want = rc.batch_mean(rc.grads_bptt, ops, Ws, bs, X, Y, nrn, masks=masks)
    assert len(r["windows"]) == 1 and len(r["blocks"]) == 1
    assert_grads(r["windows"][0]["gW"], want["gW"])
    assert_grads(r["windows"][0]["gb"], want["gb"])
    assert_grads(r["W"], [w - lr * g for w, g in zip(Ws, want["gW"])])
    assert r["loss"] == pytest.approx(want["loss"], abs=1e-12)
    assert_spiking(want["per_sample"][0]["rec"])


def test_tbptt_unit_window_first_update_is_sltt_at_step_0():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=13)
    nrn = NRN["tet"]
    r = rc.tbptt_local(ops, Ws, bs, [], X, Y, nrn, lr=0.4, T_L=1, B_L=3, masks=masks)
    s0 = rc.batch_mean(rc.grads_sltt, ops, Ws, bs, X, Y, nrn, masks=masks, steps=[0])
    assert_grads(r["windows"][0]["gW"], s0["gW"])
    assert_grads(r["windows"][0]["gb"], s0["gb"])
    # lr = 0: every window is SLTT at its step, so the windows sum to SLTT
    r0 = rc.tbptt_local(ops, Ws, bs, [], X, Y, nrn, lr=0.0, T_L=1, B_L=3, masks=masks)
    s = rc.batch_mean(rc.grads_sltt, ops, Ws, bs, X, Y, nrn, masks=masks)
    assert_grads([sum(w["gW"][l] for w in r0["windows"]) for l in range(len(Ws))], s["gW"])
    # lr > 0: identical to online SLTT (OTTT_O with trace decay 0): per-step update, carried state
    o = rc.ottt_online(ops, Ws, bs, X, Y, nrn, lr=0.4, trace_decay=0.0, masks=masks)
    assert_grads(r["W"], o["W"])
    assert_grads(r["b"], o["b"])
    assert max(np.abs(a - b).max() for a, b in zip(r["W"], r0["W"])) > 1e-6


def test_tbptt_windows_truncate_the_temporal_route():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=14)
    nrn = NRN["ottt"]
    r = rc.tbptt_local(ops, Ws, bs, [], X, Y, nrn, lr=0.0, T_L=2, B_L=3, masks=masks)
    assert [(w["t0"], w["t1"]) for w in r["windows"]] == [(0, 2), (2, 4), (4, 5)]
    full = rc.batch_mean(rc.grads_bptt, ops, Ws, bs, X, Y, nrn, masks=masks)
    summed = [sum(w["gW"][l] for w in r["windows"]) for l in range(len(Ws))]
    np.testing.assert_allclose(summed[-1], full["gW"][-1], atol=1e-12)   # readout: no temporal route
    assert np.abs(summed[0] - full["gW"][0]).max() > 1e-6
    # the last window's gradient of the top LIF layer is BPTT restricted to steps 4.. only
    # (window of one step = spatial route), i.e. SLTT at step 4
    s4 = rc.batch_mean(rc.grads_sltt, ops, Ws, bs, X, Y, nrn, masks=masks, steps=[4])
    assert_grads(r["windows"][2]["gW"], s4["gW"])


@pytest.mark.parametrize("T_L", [5, 2])
def test_tbptt_blocks_equal_their_own_subnetworks(T_L):
    """B_L = 1 on net A (3 LIF layers -> 3 blocks, 2 aux heads). With lr = 0, block k's gradients
    equal one-block tbptt_local of block k alone: input = the previous block's spikes (detached),
    head = aux (GAP written as avgpool over the whole map) or the main readout."""
    shape, ops = NETS["A"]
    _, Ws, bs, X, Y, masks = conv_problem("A", seed=15, B=2)
    rng = np.random.default_rng(16)
    aux = [(rng.normal(size=(4, C)), rng.normal(size=C)), (rng.normal(size=(4, C)), rng.normal(size=C))]
    nrn = NRN["sltt"]
    r = rc.tbptt_local(ops, Ws, bs, aux, X, Y, nrn, lr=0.0, T_L=T_L, B_L=1, masks=masks)
    assert r["blocks"] == [(0, 0), (1, 1), (2, 2)]
    tot = lambda key, l: sum(w[key][l] for w in r["windows"])
    totaux = lambda k, i: sum(w["gaux"][k][i] for w in r["windows"])
    s = [np.stack([rec["s"][l].reshape((5,) + sh) for rec in r["rec"]]) for l, sh in
         [(0, (10, 9, 4)), (1, (5, 4, 4))]]
    # block 0: conv1 -> GAP(10x9) -> aux 0. avgpool cannot express a 10x9 mean, so use the
    # equivalent readout o = GAP(s) @ Wa = s @ (G @ Wa): a dense readout with weight G @ Wa, whose
    # weight gradient maps back to Wa's by G^T.
    G = np.zeros((10 * 9 * 4, 4))
    for p in range(90):
        G[p * 4:(p + 1) * 4] = np.eye(4) / 90
    r0 = rc.tbptt_local([ops[0]], [Ws[0], G @ aux[0][0]], [bs[0], aux[0][1]], [], X, Y, nrn, 0.0, T_L, 1,
                        masks=None)
    np.testing.assert_allclose(tot("gW", 0), sum(w["gW"][0] for w in r0["windows"]), atol=1e-12)
    np.testing.assert_allclose(tot("gb", 0), sum(w["gb"][0] for w in r0["windows"]), atol=1e-12)
    np.testing.assert_allclose(G.T @ tot_ro(r0), totaux(0, 0), atol=1e-12)
    np.testing.assert_allclose(totaux(0, 1), sum(w["gb"][1] for w in r0["windows"]), atol=1e-12)
    # block 1: input = block 0's spikes, ops dropout -> avgpool -> conv2, head = GAP(5x4) -> aux 1
    G1 = np.zeros((5 * 4 * 4, 4))
    for p in range(20):
        G1[p * 4:(p + 1) * 4] = np.eye(4) / 20
    r1 = rc.tbptt_local(ops[1:4], [Ws[1], G1 @ aux[1][0]], [None, aux[1][1]], [], s[0], Y, nrn, 0.0, T_L, 1,
                        masks=masks)
    np.testing.assert_allclose(tot("gW", 1), sum(w["gW"][0] for w in r1["windows"]), atol=1e-12)
    np.testing.assert_allclose(G1.T @ tot_ro(r1), totaux(1, 0), atol=1e-12)
    # block 2: input = block 1's spikes, ops maxpool -> dense, main readout
    r2 = rc.tbptt_local(ops[4:], Ws[2:], bs[2:], [], s[1], Y, nrn, 0.0, T_L, 1)
    for i in range(2):
        np.testing.assert_allclose(tot("gW", 2 + i), sum(w["gW"][i] for w in r2["windows"]), atol=1e-12)
        np.testing.assert_allclose(tot("gb", 2 + i), sum(w["gb"][i] for w in r2["windows"]), atol=1e-12)
    assert r["loss"] == pytest.approx(r2["loss"], abs=1e-12)
    assert r["loss_aux"] == pytest.approx([r0["loss"], r1["loss"]], abs=1e-12)
    assert all(x.sum() > 0 for x in s)


def tot_ro(res):
    return sum(w["gW"][-1] for w in res["windows"])


def test_tbptt_updates_every_window_with_aux_heads():
    """lr > 0 with windows and blocks: final weights are the initial ones minus lr * the sum of the
    window gradients, and the second window's gradient is computed with the updated weights."""
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=17)
    rng = np.random.default_rng(18)
    aux = [(rng.normal(size=(4, C)), rng.normal(size=C))]
    nrn, lr = NRN["ottt"], 0.5
    r = rc.tbptt_local(ops, Ws, bs, aux, X, Y, nrn, lr=lr, T_L=2, B_L=2, masks=masks)
    r0 = rc.tbptt_local(ops, Ws, bs, aux, X, Y, nrn, lr=0.0, T_L=2, B_L=2, masks=masks)
    assert r["blocks"] == [(0, 1), (2, 2)]
    for l in range(len(Ws)):
        np.testing.assert_allclose(r["W"][l], Ws[l] - lr * sum(w["gW"][l] for w in r["windows"]), atol=1e-12)
    np.testing.assert_allclose(r["aux"][0][0], aux[0][0] - lr * sum(w["gaux"][0][0] for w in r["windows"]),
                               atol=1e-12)
    assert_grads(r["windows"][0]["gW"], r0["windows"][0]["gW"])
    assert max(np.abs(a - b).max() for a, b in zip(r["windows"][1]["gW"], r0["windows"][1]["gW"])) > 1e-9


# ----------------------------------------------------------------------------- records and validation


def test_records_for_counting():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=19)
    nrn = NRN["ottt"]
    r = rc.grads_ottt(ops, Ws, bs, X[0], Y[0], nrn, 0.5, masks=one(masks, 0))
    rec = r["rec"]
    np.testing.assert_array_equal(rec["events"][0], X[0].reshape(5, -1).sum(1))   # binary input
    for l in range(len(Ws)):
        np.testing.assert_array_equal(rec["events"][l], np.count_nonzero(rec["z"][l], axis=1))
        a = X[0].reshape(5, -1) if l == 0 else rec["s"][l - 1]
        for t in range(5):
            z = a[t]
            for M in rec["J"][l][t]:
                z = z @ M
            np.testing.assert_array_equal(z, rec["z"][l][t])
    for l in range(1, len(Ws)):
        tr = np.zeros(rec["z"][l].shape[1])
        for t in range(5):
            tr = 0.5 * tr + rec["z"][l][t]
            np.testing.assert_allclose(rec["pre"][l][t], tr, atol=1e-15)
    np.testing.assert_array_equal(rec["pre"][0], rec["z"][0])
    for l in range(len(Ws) - 1):
        np.testing.assert_allclose(rec["sg"][l], rc.surrogate(rec["u"][l] - 1.0, "sigmoid", 4.0))
    for t in range(5):
        np.testing.assert_allclose(rec["g"][-1][t], rc.step_loss(rec["o"][t], Y[0], 5)[1])
    # dropout scales the avgpooled input of conv2: its events are those of the masked spikes
    assert rec["J"][1][0][0].shape == (360, 360) and rec["J"][1][0][1].shape == (360, 80)


def test_validation_errors():
    ops, Ws, bs, X, Y, masks = conv_problem("A", seed=20)
    nrn = NRN["ottt"]
    with pytest.raises(ValueError):
        rc.grads_bptt(ops, Ws, bs, X[0], Y[0], nrn)                       # dropout without mask
    with pytest.raises(ValueError):
        rc.grads_bptt(ops, Ws, [None] + bs[1:], X[0], Y[0], nrn, masks=one(masks, 0))   # bias flag
    with pytest.raises(ValueError):
        rc.grads_bptt(ops, [Ws[0].T] + Ws[1:], bs, X[0], Y[0], nrn, masks=one(masks, 0))
    with pytest.raises(ValueError):
        rc.tbptt_local(ops, Ws, bs, [], X, Y, nrn, 0.1, 2, 1, masks=masks)   # missing aux heads
