"""LPIPS perceptual distance as taming-transformers uses it (taming/modules/losses/lpips.py,
after Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features"), VGG16 variant.

Dimension legend: B batch, C_k channels of tap k (64, 128, 256, 512, 512), H_k, W_k its size.
  x' = (x - shift) / scale                     ScalingLayer, per RGB channel
  f_k = VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (5 taps)
  n_k = f_k / (sqrt(sum_c f_k^2) + 1e-10)       unit-normalized over channels
  d(x, y) = sum_k mean_{h,w} lin_k((n_k(x) - n_k(y))^2)     lin_k: 1x1 conv C_k -> 1, no bias
Output (B, 1, 1, 1).

Names are LPIPS's: net.slice1..slice5 hold torchvision vgg16().features layers under their
original indices (slice1: 0-3, slice2: 4-8, slice3: 9-15, slice4: 16-22, slice5: 23-29), and
lin{k}.model.1.weight (1, C_k, 1, 1) (model.0 is the parameterless Dropout). So
torchvision's vgg16 weights (features.N -> net.sliceK.N) and LPIPS's vgg.pth load directly.
Weights are random here: nothing is downloaded. Dropout is inactive in eval(); note that a
Lightning run puts the whole model, LPIPS included, in train mode, so taming's training does
apply that dropout (p = 0.5) to the squared differences.
"""
import torch
import torch.nn as nn

# torchvision's VGG16 "D" configuration: channel counts, M = 2x2 max-pool stride 2.
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_SLICE_BOUNDS = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]


def vgg16_features():
    """torchvision.models.vgg16().features up to index 29 (relu5_3), PyTorch default init."""
    layers, c = [], 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            c = v
    return layers


class VGG16Slices(nn.Module):
    def __init__(self):
        super().__init__()
        feats = vgg16_features()
        for s, (lo, hi) in enumerate(_SLICE_BOUNDS, start=1):
            sl = nn.Sequential()
            for i in range(lo, hi):
                sl.add_module(str(i), feats[i])
            setattr(self, "slice%d" % s, sl)

    def forward(self, x):
        outs = []
        for s in range(1, 6):
            x = getattr(self, "slice%d" % s)(x)
            outs.append(x)
        return outs


class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-.030, -.088, -.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor([.458, .448, .450])[None, :, None, None])

    def forward(self, x):
        return (x - self.shift) / self.scale


class NetLinLayer(nn.Module):
    def __init__(self, chn_in, chn_out=1, use_dropout=True):
        super().__init__()
        layers = [nn.Dropout()] if use_dropout else []
        layers += [nn.Conv2d(chn_in, chn_out, 1, stride=1, padding=0, bias=False)]
        self.model = nn.Sequential(*layers)


def normalize_tensor(x, eps=1e-10):
    return x / (torch.sqrt(torch.sum(x ** 2, dim=1, keepdim=True)) + eps)


def spatial_average(x, keepdim=True):
    return x.mean([2, 3], keepdim=keepdim)


class LPIPS(nn.Module):
    chns = [64, 128, 256, 512, 512]

    def __init__(self, use_dropout=True):
        super().__init__()
        self.scaling_layer = ScalingLayer()
        self.net = VGG16Slices()
        for k, c in enumerate(self.chns):
            setattr(self, "lin%d" % k, NetLinLayer(c, use_dropout=use_dropout))
        for p in self.parameters():
            p.requires_grad = False     # frozen, as in taming; gradients still reach the input

    def forward(self, x, y):
        fx = self.net(self.scaling_layer(x))
        fy = self.net(self.scaling_layer(y))
        val = 0
        for k in range(len(self.chns)):
            diff = (normalize_tensor(fx[k]) - normalize_tensor(fy[k])) ** 2
            val = val + spatial_average(getattr(self, "lin%d" % k).model(diff), keepdim=True)
        return val
