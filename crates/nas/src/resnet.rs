//! ResNet-8 (He et al. 2016, the CIFAR family `6n + 2` with `n = 1`): a fixed reference network
//! for comparing image datasets.
//!
//! 3×3 convolution to `w` channels + BN + ReLU, then three stages of one basic block each (widths
//! `w`, `2w`, `4w`; the second and third halve the resolution with a stride-2 first convolution and
//! a 1×1 stride-2 projection on the shortcut), global average pooling and a linear classifier:
//! 1 + 3 · 2 + 1 = 8 weighted layers. A basic block is
//! `ReLU(BN(conv₃(ReLU(BN(conv₃(x))))) + shortcut(x))`. With `w = 16` it has 78 042 parameters for
//! 10 classes.

use tch::nn;
use tch::Tensor;

use crate::{Error, Result};

#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    proj: Option<(nn::Conv2D, nn::BatchNorm)>,
}

fn conv(p: &nn::Path<'_>, c_in: i64, c_out: i64, k: i64, stride: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig { stride, padding: k / 2, bias: false, ..Default::default() };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

impl Block {
    fn new(p: &nn::Path<'_>, c_in: i64, c_out: i64, stride: i64) -> Self {
        let proj = (stride != 1 || c_in != c_out).then(|| {
            (
                conv(&(p / "proj"), c_in, c_out, 1, stride),
                nn::batch_norm2d(p / "proj_bn", c_out, Default::default()),
            )
        });
        Block {
            conv1: conv(&(p / "conv1"), c_in, c_out, 3, stride),
            bn1: nn::batch_norm2d(p / "bn1", c_out, Default::default()),
            conv2: conv(&(p / "conv2"), c_out, c_out, 3, 1),
            bn2: nn::batch_norm2d(p / "bn2", c_out, Default::default()),
            proj,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = x.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        let h = h.apply(&self.conv2).apply_t(&self.bn2, train);
        let s = match &self.proj {
            Some((c, bn)) => x.apply(c).apply_t(bn, train),
            None => x.shallow_clone(),
        };
        (h + s).relu()
    }
}

/// ResNet-8 (module docs).
#[derive(Debug)]
pub struct ResNet8 {
    stem: nn::Conv2D,
    stem_bn: nn::BatchNorm,
    blocks: [Block; 3],
    fc: nn::Linear,
    in_channels: i64,
}

impl ResNet8 {
    /// ResNet-8 of base width `width` (16 in the CIFAR ResNets) for `in_channels`-channel images and
    /// `classes` classes.
    ///
    /// # Errors
    /// Non-positive sizes or fewer than 2 classes.
    pub fn new(p: &nn::Path<'_>, in_channels: i64, width: i64, classes: i64) -> Result<Self> {
        for (name, v) in [("in_channels", in_channels), ("width", width)] {
            if v < 1 {
                return Err(Error::invalid(name, v, "must be ≥ 1"));
            }
        }
        if classes < 2 {
            return Err(Error::invalid("classes", classes, "must be ≥ 2"));
        }
        Ok(ResNet8 {
            stem: conv(&(p / "stem"), in_channels, width, 3, 1),
            stem_bn: nn::batch_norm2d(p / "stem_bn", width, Default::default()),
            blocks: [
                Block::new(&(p / "stage1"), width, width, 1),
                Block::new(&(p / "stage2"), width, 2 * width, 2),
                Block::new(&(p / "stage3"), 2 * width, 4 * width, 2),
            ],
            fc: nn::linear(p / "fc", 4 * width, classes, Default::default()),
            in_channels,
        })
    }

    /// Logits `[B, classes]` for images `[B, in_channels, H, W]`.
    ///
    /// # Errors
    /// Images of another shape or kind.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let s = x.size();
        if s.len() != 4 || s[1] != self.in_channels || !x.is_floating_point() {
            return Err(Error::shape("x", format!("[B, {}, H, W] floating point", self.in_channels), s));
        }
        let mut h = x.apply(&self.stem).apply_t(&self.stem_bn, train).relu();
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        Ok(h.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn eight_layers_and_the_closed_form_parameter_count() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = ResNet8::new(&vs.root(), 3, 16, 10).unwrap();
        let n: i64 = vs.trainable_variables().iter().map(|v| v.numel() as i64).sum();
        // stem 27·16 + 2·16; blocks 9·16·16·2 + 4·16; 9·16·32 + 9·32·32 + 4·32 + 16·32 + 2·32;
        // 9·32·64 + 9·64·64 + 4·64 + 32·64 + 2·64; fc 64·10 + 10
        let closed = 27 * 16
            + 32
            + (2 * 9 * 16 * 16 + 4 * 16)
            + (9 * 16 * 32 + 9 * 32 * 32 + 4 * 32 + 16 * 32 + 2 * 32)
            + (9 * 32 * 64 + 9 * 64 * 64 + 4 * 64 + 32 * 64 + 2 * 64)
            + (64 * 10 + 10);
        assert_eq!(n, closed);
        assert_eq!(n, 78_042);
        let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&x, false).unwrap().size(), vec![2, 10]);
        assert!(net.forward_t(&Tensor::zeros([2, 1, 32, 32], (Kind::Float, Device::Cpu)), false).is_err());
        assert!(ResNet8::new(&vs.root(), 3, 16, 1).is_err());
    }
}
