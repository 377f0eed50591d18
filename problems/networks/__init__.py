"""Real networks → block spectra → quadratics (small torch reference models; THEORY §7, §8.1).

``blockwise_spectra`` measures the Hessian spectrum of a torch model's loss restricted to each
parameter block, ``blockwise_gradients`` the block gradient norms and their Gini;
``problems.from_spectra`` builds a ``BlockQuadratic`` with those spectra. ``models`` holds the
small seeded reference networks (GPT-style Transformer, CNN, MLP). torch is imported only when a
function here is called, so ``import hetquad.problems`` stays torch-free.
"""
from .blockwise import (BlockGradients, BlockSpectra, ParameterBlock, block_gradient, block_hessian,
                        blockwise_gradients, blockwise_spectra, reference_spectra, resolve_partition, torch_threads)
from .models import MODELS, ReferenceModel, cnn, mlp, qkv_partition, reference_model, transformer

__all__ = ["BlockGradients", "BlockSpectra", "ParameterBlock", "block_gradient", "block_hessian",
           "blockwise_gradients", "blockwise_spectra", "reference_spectra", "resolve_partition", "torch_threads",
           "MODELS", "ReferenceModel", "cnn", "mlp", "qkv_partition", "reference_model", "transformer"]
