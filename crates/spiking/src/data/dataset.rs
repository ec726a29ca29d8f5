//! The labelled sparse spike-raster container shared by the datasets ([`SpikeDataset`]).

use crate::{Error, Result};

/// A labelled set of sparse spike rasters on a common time grid.
///
/// Sample `s` is the event list `events[s]` of `(step, neuron)` pairs, sorted by step then neuron, with
/// `step < n_steps` and `neuron < n_inputs`; its class is `labels[s] < n_classes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeDataset {
    /// Per sample, the spikes as `(step, neuron)` pairs sorted by `(step, neuron)`.
    pub events: Vec<Vec<(u32, u32)>>,
    /// Class label of each sample.
    pub labels: Vec<usize>,
    /// Number of time steps `T` of every sample.
    pub n_steps: usize,
    /// Number of input neurons `N`.
    pub n_inputs: usize,
    /// Number of classes.
    pub n_classes: usize,
}

impl SpikeDataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All samples as tensors: spikes `[N, T, n_inputs]` (f32, batch-first, ready for
    /// [`SequenceBatches`](crate::train::SequenceBatches)) and labels `[N]` (int64).
    ///
    /// # Errors
    /// An event outside `[0, T) × [0, n_inputs)`.
    pub fn to_tensors(&self) -> Result<(tch::Tensor, tch::Tensor)> {
        let mut x = Vec::with_capacity(self.len() * self.n_steps * self.n_inputs);
        for i in 0..self.len() {
            x.extend(self.to_dense(i)?);
        }
        let y: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        let shape = [self.len() as i64, self.n_steps as i64, self.n_inputs as i64];
        // cpu: a data source: batches move to the model's device when used
        Ok((tch::Tensor::from_slice(&x).reshape(shape), tch::Tensor::from_slice(&y)))
    }

    /// Dense raster of sample `idx`, time-first: `[n_steps][n_inputs]` row-major, entries 0 or 1.
    ///
    /// # Errors
    /// `idx ≥ len()`, or an event outside the grid (only possible if `events` was edited by hand).
    pub fn to_dense(&self, idx: usize) -> Result<Vec<f32>> {
        let events = self.events.get(idx).ok_or_else(|| {
            Error::invalid("idx", idx, format!("must be < number of samples {}", self.len()))
        })?;
        let mut dense = vec![0.0f32; self.n_steps * self.n_inputs];
        for &(step, neuron) in events {
            let (step, neuron) = (step as usize, neuron as usize);
            if step >= self.n_steps || neuron >= self.n_inputs {
                return Err(Error::invalid(
                    "events",
                    format!("({step}, {neuron})"),
                    format!("(step, neuron) must lie in [0, {}) × [0, {})", self.n_steps, self.n_inputs),
                ));
            }
            dense[step * self.n_inputs + neuron] = 1.0;
        }
        Ok(dense)
    }

    /// Number of spikes of each input neuron in sample `idx` (length `n_inputs`).
    ///
    /// # Errors
    /// `idx ≥ len()`, or an event with `neuron ≥ n_inputs`.
    pub fn spike_counts(&self, idx: usize) -> Result<Vec<u32>> {
        let events = self.events.get(idx).ok_or_else(|| {
            Error::invalid("idx", idx, format!("must be < number of samples {}", self.len()))
        })?;
        let mut counts = vec![0u32; self.n_inputs];
        for &(_, neuron) in events {
            let c = counts.get_mut(neuron as usize).ok_or_else(|| {
                Error::invalid("events", neuron, format!("neuron must be < n_inputs {}", self.n_inputs))
            })?;
            *c += 1;
        }
        Ok(counts)
    }
}
