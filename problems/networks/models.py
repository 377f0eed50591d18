"""Small reference networks on random data, seeded, CPU, float64, no downloads.

Each factory returns a ``ReferenceModel``: the module (PyTorch default initialisation, in train
mode), its loss function and one batch, ready for ``blockwise_spectra(m.model, m.loss_fn,
m.batch)``. Sizes are chosen so that the exact Hessian spectrum of every parameter block takes
seconds on a laptop CPU (≤ 2.4k parameters, blocks ≤ 576 entries by default). Data are random (tokens, images,
Gaussian inputs, uniform labels): the spectra are those of the network *at initialisation* on a
loss with no structure to learn, which is what Zhang et al. measure at init (THEORY §7) but at a
far smaller scale — orderings seen at GPT-2/ResNet scale need not hold here.

Seeding: the module is built inside ``torch.random.fork_rng`` after ``torch.manual_seed(seed)``
(the global torch RNG is left as it was), the batch from a ``torch.Generator`` seeded with
``seed + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..validation import integer, one_of, positive

MODELS = ("transformer", "cnn", "mlp")


@dataclass(frozen=True, eq=False)
class ReferenceModel:
    """A model with its loss and batch: ``loss = loss_fn(model(inputs), targets)``.

    Attributes
    ----------
    name : {'transformer', 'cnn', 'mlp'}
    model : torch.nn.Module
        float64, train mode (BatchNorm uses batch statistics).
    loss_fn : callable (outputs, targets) -> scalar tensor
    batch : (inputs, targets) pair of tensors
    info : dict
        The factory's parameters and the seed.
    """

    name: str
    model: Any
    loss_fn: Callable
    batch: tuple
    info: dict = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def loss(self) -> float:
        """The loss on ``batch`` (no gradient)."""
        import torch

        with torch.no_grad():
            return float(self.loss_fn(self.model(self.batch[0]), self.batch[1]))


def _build(seed: int, make):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make().double()
    return model.train()


def _generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed + 1)


def transformer(*, seed: int = 0, vocab: int = 16, d_model: int = 12, n_heads: int = 2, n_layers: int = 1,
                seq_len: int = 8, mlp_ratio: int = 4, batch_size: int = 8, ln: str = "pre") -> ReferenceModel:
    """A GPT-style Transformer on random tokens (next-token cross-entropy).

    Token and position embeddings, ``n_layers`` pre-LayerNorm blocks (``ln='post'``: Post-LN blocks,
    LayerNorm after each residual sum as in the original Transformer and BERT/RoBERTa, and no final
    LayerNorm) (causal attention with a
    fused Q/K/V projection ``attn.qkv`` as in GPT-2 and an output projection ``attn.proj``, GELU
    MLP ``fc``/``fc_proj``), final LayerNorm, untied linear head. Defaults: 2 388 parameters in
    17 tensors, the largest 576 (``fc``/``fc_proj`` weights).

    Parameters
    ----------
    seed : int >= 0
    vocab, d_model, n_heads, n_layers, seq_len, mlp_ratio, batch_size : int >= 1
        ``d_model`` must be divisible by ``n_heads``.
    ln : {'pre', 'post'}
        Where the LayerNorms sit (Tomihari & Sato §4.6).

    Returns
    -------
    ReferenceModel
        ``batch = (tokens[:, :-1], tokens[:, 1:])`` with tokens uniform in [0, vocab).
    """
    seed = integer("seed", seed, minimum=0)
    args = {k: integer(k, v, minimum=1) for k, v in dict(vocab=vocab, d_model=d_model, n_heads=n_heads,
                                                          n_layers=n_layers, seq_len=seq_len, mlp_ratio=mlp_ratio,
                                                          batch_size=batch_size).items()}
    if d_model % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads = {n_heads}, got {d_model}")
    one_of("ln", ln, ("pre", "post"))
    import torch

    from . import _layers

    model = _build(seed, lambda: _layers.TinyGPT(vocab=vocab, d_model=d_model, n_heads=n_heads,
                                                 n_layers=n_layers, seq_len=seq_len, mlp_ratio=mlp_ratio, ln=ln))
    tokens = torch.randint(0, vocab, (batch_size, seq_len + 1), generator=_generator(seed))
    return ReferenceModel("transformer", model, _layers.token_cross_entropy, (tokens[:, :-1], tokens[:, 1:]),
                          {**args, "ln": ln, "seed": seed})


def cnn(*, seed: int = 0, channels: tuple = (4, 8, 8), image_size: int = 8, n_classes: int = 10,
        batch_size: int = 16) -> ReferenceModel:
    """A small CNN, (conv3×3 → BatchNorm → ReLU) × 3 + global pooling + linear, on random images.

    Convs without bias (BatchNorm follows, as in ResNets). Defaults: 3-channel 8×8 Gaussian
    images, 10 uniform labels, 1 102 parameters in 11 tensors, the largest 576 (the last conv
    weight).

    Parameters
    ----------
    seed : int >= 0
    channels : sequence of int >= 1
        Output channels of the conv layers (three by default, as in the issue).
    image_size, n_classes, batch_size : int >= 1
        ``batch_size`` >= 2, as BatchNorm in train mode needs more than one value per channel.
    """
    seed = integer("seed", seed, minimum=0)
    channels = tuple(integer("channels[]", c, minimum=1) for c in channels)
    if not channels:
        raise ValueError("channels must name at least one conv layer, got ()")
    image_size = integer("image_size", image_size, minimum=1)
    n_classes = integer("n_classes", n_classes, minimum=2)
    batch_size = integer("batch_size", batch_size, minimum=2)
    import torch

    from . import _layers

    model = _build(seed, lambda: _layers.TinyCNN(in_channels=3, channels=channels, n_classes=n_classes))
    gen = _generator(seed)
    x = torch.randn(batch_size, 3, image_size, image_size, generator=gen, dtype=torch.float64)
    y = torch.randint(0, n_classes, (batch_size,), generator=gen)
    return ReferenceModel("cnn", model, _layers.cross_entropy, (x, y),
                          {"channels": list(channels), "image_size": image_size, "n_classes": n_classes,
                           "batch_size": batch_size, "seed": seed})


def mlp(*, seed: int = 0, sizes: tuple = (24, 24, 24, 10), batch_size: int = 64, scales=None) -> ReferenceModel:
    """A tanh MLP on Gaussian inputs with uniform labels (softmax cross-entropy).

    Defaults: 24 → 24 → 24 → 10, 1 450 parameters in 6 tensors.

    Parameters
    ----------
    seed : int >= 0
    sizes : sequence of int >= 1
        Input width, hidden widths, number of classes (>= 2 entries; the last >= 2).
    batch_size : int >= 1
    scales : sequence of float > 0, optional
        One factor per Linear layer multiplying its output (default all 1: the plain MLP); the
        heterogeneity knob of the man-made MLP (``TinyMLP``).
    """
    seed = integer("seed", seed, minimum=0)
    sizes = tuple(integer("sizes[]", s, minimum=1) for s in sizes)
    if scales is not None:
        scales = tuple(positive(f"scales[{l}]", c) for l, c in enumerate(scales))
        if len(scales) != len(sizes) - 1:
            raise ValueError(f"scales must give one factor per Linear layer ({len(sizes) - 1}), got {len(scales)}")
    if len(sizes) < 2 or sizes[-1] < 2:
        raise ValueError(f"sizes must have >= 2 entries and end with >= 2 classes, got {sizes}")
    batch_size = integer("batch_size", batch_size, minimum=1)
    import torch

    from . import _layers

    model = _build(seed, lambda: _layers.TinyMLP(sizes=sizes, scales=scales))
    gen = _generator(seed)
    x = torch.randn(batch_size, sizes[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (batch_size,), generator=gen)
    return ReferenceModel("mlp", model, _layers.cross_entropy, (x, y),
                          {"sizes": list(sizes), "batch_size": batch_size, "scales": None if scales is None else list(scales), "seed": seed})


_FACTORIES = {"transformer": transformer, "cnn": cnn, "mlp": mlp}


def reference_model(name: str, *, seed: int = 0, **options) -> ReferenceModel:
    """The reference model ``name`` ∈ {'transformer', 'cnn', 'mlp'}; options go to its factory."""
    one_of("name", name, MODELS)
    return _FACTORIES[name](seed=seed, **options)


def qkv_partition(model, *, heads: bool = False) -> dict:
    """A partition of a ``transformer()`` model that splits every fused ``attn.qkv`` into Q, K, V.

    Every other parameter tensor is its own block. With ``heads=True`` Q, K and V are further
    split per attention head (rows of ``qkv.weight``/``qkv.bias``), the finer partition that
    Adam-mini uses for Q and K.

    Parameters
    ----------
    model : the ``model`` of ``transformer()`` (any module whose ``...attn.qkv`` modules are
        fused [Q; K; V] ``nn.Linear`` layers and whose attention modules have ``n_heads``)
    heads : bool

    Returns
    -------
    dict
        ``{block name: entries}`` for ``blockwise_spectra(partition=...)``.
    """
    mapping = {}
    modules = dict(model.named_modules())
    for pname, p in model.named_parameters():
        owner, _, leaf = pname.rpartition(".")
        if not owner.endswith("attn.qkv"):
            mapping[pname] = pname
            continue
        d = p.shape[0] // 3
        n_heads = modules[owner.rpartition(".")[0]].n_heads if heads else 1
        width = d // n_heads
        for i, part in enumerate("qkv"):
            for h in range(n_heads):
                rows = slice(i * d + h * width, i * d + (h + 1) * width)
                label = f"{owner}.{part}" + (f".head{h}" if heads else "") + f".{leaf}"
                mapping[label] = (pname, rows)
    return mapping
