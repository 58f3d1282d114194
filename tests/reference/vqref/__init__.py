"""vqref: PyTorch reference models that vqc must match tensor for tensor.

Written for this project from the published architectures of
CompVis/taming-transformers (VQGAN) and rosinality/vq-vae-2-pytorch (VQ-VAE-2);
no code is copied from them. Module and parameter names are theirs, so their
checkpoints load with `load_state_dict` and our fixtures use their names.

Not a training framework: no Lightning, no data pipeline beyond Fashion-MNIST.
Run with /usr/bin/python3 (torch 1.13, numpy).
"""
from .taming_blocks import Normalize, nonlinearity, ResnetBlock, AttnBlock, Upsample, Downsample
from .taming_coder import Encoder, Decoder
from .taming_quantize import VectorQuantizer
from .taming_disc import NLayerDiscriminator, ActNorm, weights_init
from .lpips import LPIPS
from .taming_loss import VQLPIPSWithDiscriminator, hinge_d_loss, vanilla_d_loss, adopt_weight
from .taming_vqmodel import VQModel
from .vqvae2 import VQVAE, Quantize
from .configs import CONFIGS, build
from .names import tensor_table, format_table
from . import safetensors_np

__all__ = [
    "Normalize", "nonlinearity", "ResnetBlock", "AttnBlock", "Upsample", "Downsample",
    "Encoder", "Decoder", "VectorQuantizer", "NLayerDiscriminator", "ActNorm", "weights_init",
    "LPIPS", "VQLPIPSWithDiscriminator", "hinge_d_loss", "vanilla_d_loss", "adopt_weight",
    "VQModel", "VQVAE", "Quantize", "CONFIGS", "build", "tensor_table", "format_table",
    "safetensors_np",
]
