//! Backends the trainer runs on, chosen at run time with `--device`.
//!
//! - `cpu`: burn's `flex` backend (pure Rust, im2col + gemm convolutions on all cores), the
//!   default and what the tests use;
//! - `cuda[:N]`: burn-cuda (build with `--features cuda`; needs a CUDA toolkit at run time).
//!
//! Training code is generic over `B: AutodiffBackend`; [`with_backend`] picks the concrete type.

use crate::error::Error;
use crate::model::ops::PolicyBackend;
use burn::tensor::backend::AutodiffBackend;

/// The CPU backend.
pub type Cpu = burn::backend::Flex;
/// The CPU backend with automatic differentiation.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;
/// The CUDA backend with automatic differentiation.
#[cfg(feature = "cuda")]
pub type GpuAutodiff = burn::backend::Autodiff<Gpu>;

/// A backend the trainer can train on: automatic differentiation over a backend, both with the
/// policy's operations ([`PolicyBackend`]), so that a model trains on `B` and samples on
/// `B::InnerBackend`.
pub trait TrainBackend: AutodiffBackend<InnerBackend: PolicyBackend> + PolicyBackend {}

impl<B> TrainBackend for B
where
    B: AutodiffBackend + PolicyBackend,
    B::InnerBackend: PolicyBackend,
{
}

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(n) => Ok(DeviceChoice::Cuda(n)),
                None => Err(format!(
                    "unknown device {s:?} (expected cpu, cuda or cuda:N)"
                )),
            },
        }
    }
}

/// Something to run on an autodiff backend (implemented by each training command).
pub trait BackendTask {
    /// What the task returns.
    type Output;
    /// The task's error (it must take the library's, for a device that cannot be used).
    type Error: From<Error>;
    /// Runs the task on backend `B` and device.
    fn run<B: TrainBackend>(self, device: B::Device) -> Result<Self::Output, Self::Error>;
}

/// Runs `task` on the chosen device's backend.
pub fn with_backend<T: BackendTask>(device: DeviceChoice, task: T) -> Result<T::Output, T::Error> {
    match device {
        DeviceChoice::Cpu => task.run::<CpuAutodiff>(Default::default()),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(n) => task.run::<GpuAutodiff>(burn::backend::cuda::CudaDevice::new(n)),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda(_) => Err(Error::backend(
            "--device cuda",
            "this lrpo-train was built without CUDA support; rebuild with `--features cuda`",
        )
        .into()),
    }
}
