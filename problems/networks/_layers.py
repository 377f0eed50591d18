"""torch ``nn.Module`` definitions of the reference models (imported lazily: needs torch).

Kept apart from ``models.py`` so that ``import hetquad.problems`` never imports torch; the
factories in ``models.py`` import this module on first use.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    """GPT-2-style attention: one fused Q/K/V projection (``qkv``, rows [Q; K; V]) and ``proj``."""

    def __init__(self, d_model: int, n_heads: int, seq_len: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.register_buffer("mask", torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        # written out (not F.scaled_dot_product_attention) so forward-over-reverse AD works
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """A block with a GELU MLP; ``ln='pre'``: x + attn(ln1(x)), then x + mlp(ln2(x)) (GPT-2);
    ``ln='post'``: ln1(x + attn(x)), then ln2(x + mlp(x)) (the original Transformer, BERT/RoBERTa)."""

    def __init__(self, d_model: int, n_heads: int, seq_len: int, mlp_ratio: int, ln: str = "pre"):
        super().__init__()
        self.ln = ln
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, seq_len)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, mlp_ratio * d_model)
        self.fc_proj = nn.Linear(mlp_ratio * d_model, d_model)

    def forward(self, x):
        if self.ln == "post":
            x = self.ln1(x + self.attn(x))
            return self.ln2(x + self.fc_proj(F.gelu(self.fc(x))))
        x = x + self.attn(self.ln1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """Token + position embedding, ``n_layers`` blocks, a final LayerNorm (Pre-LN only: a Post-LN
    block already ends in one), untied output head."""

    def __init__(self, *, vocab: int, d_model: int, n_heads: int, n_layers: int, seq_len: int, mlp_ratio: int,
                 ln: str = "pre"):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, seq_len, mlp_ratio, ln) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model) if ln == "pre" else nn.Identity()
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens):
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.wte(tokens) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


class TinyCNN(nn.Module):
    """(conv3×3 → BatchNorm → ReLU) × 3, global average pooling, linear classifier.

    Convs have no bias, as in ResNets: BatchNorm subtracts the batch mean, so a conv bias would
    have an exactly zero gradient and Hessian (a degenerate block).
    """

    def __init__(self, *, in_channels: int, channels: tuple, n_classes: int):
        super().__init__()
        layers = []
        c_in = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


class TinyMLP(nn.Module):
    """Linear → tanh → … → Linear (tanh keeps the Hessian smooth, unlike ReLU's kinks).

    ``scales[l]`` multiplies the output of Linear layer l (all 1: the plain MLP): a knob for man-made
    block heterogeneity in the spirit of Zhang et al. §3 (a layer's Hessian block picks up its own
    scale and those of the layers after it, so unequal scales pull the blocks' spectra apart).
    """

    def __init__(self, *, sizes: tuple, scales: tuple | None = None):
        super().__init__()
        self.scales = tuple(scales) if scales is not None else (1.0,) * (len(sizes) - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer, c in zip(self.layers[:-1], self.scales):
            x = torch.tanh(c * layer(x))
        return self.scales[-1] * self.layers[-1](x)


def token_cross_entropy(logits, targets):
    """Mean next-token cross-entropy over all (sequence, position) pairs."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def cross_entropy(logits, targets):
    """Mean softmax cross-entropy."""
    return F.cross_entropy(logits, targets)
