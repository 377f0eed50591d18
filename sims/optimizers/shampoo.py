"""Shampoo (Gupta et al. 2018) and SOAP (Vyas et al. 2024) on matrix-shaped blocks.

Both keep per matrix block W ∈ R^{r×c} the Kronecker factors L (r×r) and R (c×c) of the
gradient statistics; Shampoo steps along L^{-1/4} G R^{-1/4}, SOAP runs Adam in the eigenbasis of
L and R. Roots and bases come from ``eigh`` (``matrix.inverse_root``); the knobs that say when
they are recomputed (``update_freq``, ``precondition_frequency``) are one integer per batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

from hetquad.problems.validation import boolean, in_range, nonnegative, one_of, positive
from ..schedules import Constant
from . import matrix as mx
from .base import _PerRun, _as_batch, _fit_batch, _schedule, column, namespace, per_run, run_values
from .matrix import MatrixState


_beta = lambda k, x: in_range(k, x, 0.0, 1.0, closed="left")  # noqa: E731


@dataclass(frozen=True)
class Shampoo(_PerRun):
    """Shampoo, Gupta et al. 2018, Alg. 1 (order 2), on every matrix block.

    L ← L + G Gᵀ, R ← R + Gᵀ G (from L = R = 0), W ← W − lr·L̃^{-1/4} G R̃^{-1/4} with
    L̃^{-1/4} = (L + eps·I)^{-1/4}: ``eps`` is added to the eigenvalues of L and R (after
    clipping round-off negatives at 0), the paper's L_0 = eps·I start. The roots are recomputed
    by ``eigh`` at steps 1, 1 + k, 1 + 2k, … (k = ``update_freq``) and reused in between, so the
    first step is always preconditioned.

    Parameters
    ----------
    lr : float > 0, or 1-D array (per run)
    eps : float > 0, or 1-D array (per run)
    update_freq : int >= 1
        One value for the whole batch.
    vector : {'error', 'diagonal'}
        What a vector block gets: 'error' (default) refuses a problem with one, naming it;
        'diagonal' runs the diagonal (AdaGrad-like) rule s ← s + g², w ← w − lr·g/√(s + eps)
        there (Shampoo's order-1 exponent −1/2 on the diagonal of the statistic), recomputed
        every step.
    """

    lr: float
    eps: float = 1e-6
    update_freq: int = 1
    vector: str = "error"
    schedule: Constant = field(default_factory=Constant)
    name = "shampoo"
    REFERENCE = ("pytorch-optimizer Shampoo (roots every step, matrix blocks); Gupta et al. 2018 Alg. 1 written out "
                 "for update_freq > 1 and the diagonal rule (test_crosscheck_matrix.py)")
    HYPER = ("lr", "eps")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "eps", per_run("eps", self.eps, positive))
        object.__setattr__(self, "update_freq", mx.single_int("update_freq", self.update_freq, 1))
        one_of("vector", self.vector, ("error", "diagonal"))
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> MatrixState:
        mx.matrix_required("Shampoo", problem, self.vector)
        w = _fit_batch(_as_batch(w0), self.runs())
        xp, n = namespace(w), w.shape[0]
        slots = []
        for b in mx.blocks(problem):
            if b.shape is None:
                slots.append((b, xp.zeros((n, b.stop - b.start))))
            else:
                r, c = b.shape
                slots.append((b, xp.zeros((n, r, r)), xp.zeros((n, c, c)), None, None))
        return MatrixState(w, 0, tuple(slots))

    def update(self, state: MatrixState, g) -> MatrixState:
        xp = namespace(g)
        lr = column(self.lr, xp) * self.schedule.column(state.t, xp)
        eps = column(self.eps, xp)
        refresh = state.t % self.update_freq == 0
        steps, slots = [], []
        for slot in state.slots:
            b = slot[0]
            G = mx.unvec(g, b)
            if b.shape is None:
                s = slot[1] + G * G
                steps.append(G * mx.inverse_power(s + eps, 2))
                slots.append((b, s))
                continue
            L = slot[1] + mx.gram(G)
            R = slot[2] + mx.gram(mx.mT(G))
            Lr, Rr = (mx.inverse_root(L, 4, eps), mx.inverse_root(R, 4, eps)) if refresh else slot[3:]
            steps.append(xp.matmul(xp.matmul(Lr, G), Rr))
            slots.append((b, L, R, Lr, Rr))
        return MatrixState(state.w - lr * mx.vec(steps, g), state.t + 1, tuple(slots))


@dataclass(frozen=True)
class SOAP(_PerRun):
    """SOAP, Vyas et al. 2024: Adam in the eigenbasis of Shampoo's factors, per matrix block.

    The semantics of the authors' code (and of ``pytorch_optimizer.SOAP``): step 1 only
    accumulates L, R ← (1−β_s)·G Gᵀ, (1−β_s)·GᵀG and takes their eigenbases Q_L, Q_R (descending
    eigenvalues); no parameter moves. From step 2 on (s = t − 1): G' = Q_Lᵀ G Q_R,
    m ← β1 m + (1−β1) G (original space), v ← β2 v + (1−β2) G'² (rotated space),
    W ← W − lr·(√(1−β2^s)/(1−β1^s))·Q_L (Q_Lᵀ m Q_R / (√v + eps)) Q_Rᵀ, then W ← W·(1 − lr·wd),
    then L, R ← β_s·(L, R) + (1−β_s)·(G Gᵀ, GᵀG) and every ``precondition_frequency`` steps
    (s % f == 0) v is re-ordered by the Rayleigh quotients of the old basis (as the authors' code)
    and the basis is recomputed. **Difference**: the authors refresh the basis by one power
    iteration + QR (in float32); here it is the exact ``eigh`` basis (the paper's
    "Eigenvectors(L)", Alg. 3). Vector blocks run plain Adam (identity basis, the authors'
    default ``precondition_1d=False``), with the same first-step skip.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    shampoo_beta : float in [0, 1) or None
        β_s of the factors; None: β2 (the authors' default).
    eps : float >= 0
    weight_decay : float >= 0
        Decoupled (default 0, a quadratic's minimiser stays w*; the authors' default is 0.01).
    precondition_frequency : int >= 1
        One value for the whole batch.
    bias_correction : bool
    """

    lr: float = 3e-3
    beta1: float = 0.95
    beta2: float = 0.95
    shampoo_beta: float | None = None
    eps: float = 1e-8
    weight_decay: float = 0.0
    precondition_frequency: int = 10
    bias_correction: bool = True
    schedule: Constant = field(default_factory=Constant)
    name = "soap"
    REFERENCE = ("pytorch-optimizer SOAP between basis refreshes; refreshes (exact eigh) vs Vyas et al. 2024 "
                 "Alg. 3 written out (test_crosscheck_matrix.py)")
    HYPER = ("lr", "beta1", "beta2", "shampoo_beta", "eps", "weight_decay")

    def __post_init__(self):
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run("beta1", self.beta1, _beta))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, _beta))
        sb = self.beta2 if self.shampoo_beta is None else self.shampoo_beta
        object.__setattr__(self, "shampoo_beta", per_run("shampoo_beta", sb, _beta))
        object.__setattr__(self, "eps", per_run("eps", self.eps, nonnegative))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        object.__setattr__(self, "precondition_frequency",
                           mx.single_int("precondition_frequency", self.precondition_frequency, 1))
        boolean("bias_correction", self.bias_correction)
        _schedule(self.schedule)
        self._check_runs()

    def init(self, problem, w0) -> MatrixState:
        w = _fit_batch(_as_batch(w0), self.runs())
        xp, n = namespace(w), w.shape[0]
        slots = []
        for b in mx.blocks(problem):
            if b.shape is None:
                slots.append((b,))
            else:
                r, c = b.shape
                slots.append((b, xp.zeros((n, r, r)), xp.zeros((n, c, c)), None, None))
        return MatrixState(w, 0, tuple(slots), xp.zeros_like(w), xp.zeros_like(w))

    @staticmethod
    def _basis(m):
        _, q = mx.eigh(m)
        return q[..., ::-1]  # descending eigenvalues, as the authors' torch.flip

    def update(self, state: MatrixState, g) -> MatrixState:
        xp = namespace(g)
        sb = mx.col3(column(self.shampoo_beta, xp))
        if state.t == 0:  # the authors' first step: statistics and bases only
            slots = []
            for slot in state.slots:
                if slot[0].shape is None:
                    slots.append(slot)
                    continue
                G = mx.unvec(g, slot[0])
                L = mx.lerp(slot[1], mx.gram(G), 1.0 - sb)
                R = mx.lerp(slot[2], mx.gram(mx.mT(G)), 1.0 - sb)
                slots.append((slot[0], L, R, self._basis(L), self._basis(R)))
            return MatrixState(state.w, 1, tuple(slots), state.m, state.v)
        s = state.t
        b1, b2 = column(self.beta1, xp), column(self.beta2, xp)

        def project(x, slot, back=False):
            X = mx.unvec(x, slot[0])
            if slot[0].shape is None:
                return X
            QL, QR = slot[3], slot[4]
            return xp.matmul(xp.matmul(QL, X), mx.mT(QR)) if back else xp.matmul(xp.matmul(mx.mT(QL), X), QR)

        gp = mx.vec([project(g, slot) for slot in state.slots], g)
        m = mx.lerp(state.m, g, 1.0 - b1)
        v = mx.lerp(state.v, gp * gp, 1.0 - b2)
        denom = xp.sqrt(v) + column(self.eps, xp)
        mp = mx.vec([project(m, slot) for slot in state.slots], g)
        nrm = mx.vec([project(mp / denom, slot, back=True) for slot in state.slots], g)
        lr = column(self.lr, np) * self.schedule.column(state.t, np)
        step = lr
        if self.bias_correction:
            step = lr * mx.host_power(run_values(self.beta2), s, lambda b, t: (1.0 - b ** t) ** 0.5) \
                / mx.host_power(run_values(self.beta1), s, lambda b, t: 1.0 - b ** t)
        w = state.w - xp.asarray(step) * nrm
        w = w * (1.0 - xp.asarray(lr) * column(self.weight_decay, xp))
        refresh = s % self.precondition_frequency == 0
        slots = []
        for slot in state.slots:
            b = slot[0]
            if b.shape is None:
                slots.append(slot)
                continue
            G = mx.unvec(g, b)
            L = mx.lerp(slot[1], mx.gram(G), 1.0 - sb)
            R = mx.lerp(slot[2], mx.gram(mx.mT(G)), 1.0 - sb)
            QL, QR = slot[3], slot[4]
            if refresh:
                V = mx.unvec(v, b)
                for axis, (F, Q) in enumerate(((L, QL), (R, QR))):
                    est = xp.sum(Q * xp.matmul(F, Q), axis=-2)  # Rayleigh quotients of the old basis
                    order = xp.argsort(-est, axis=-1)
                    V = xp.take_along_axis(V, order[:, :, None] if axis == 0 else order[:, None, :], axis=1 + axis)
                v = v.copy()
                v[:, b.start:b.stop] = V.reshape(V.shape[0], -1)
                QL, QR = self._basis(L), self._basis(R)
            slots.append((b, L, R, QL, QR))
        return MatrixState(w, state.t + 1, tuple(slots), m, v)
