//! The WebDataset stream: datasets and batches.
use crate::*;

/// `lcmd_dataset_stats` (the struct_size is set by [`Dataset::stats`]).
pub type DatasetStats = sys::lcmd_dataset_stats;

c_enum! {
    /// `lcmd_crop_mode`.
    CropMode: sys::lcmd_crop_mode {
        Random = sys::lcmd_crop_mode_LCMD_CROP_RANDOM,
        Center = sys::lcmd_crop_mode_LCMD_CROP_CENTER,
    }
}

/// Options of [`Dataset::new`]: `lcmd_dataset_options` as `lcmd_dataset_options_init`
/// fills it, with the shard spec. Fields without a setter are reachable with `raw_mut`.
#[derive(Clone, Debug)]
pub struct DatasetOptions {
    raw: sys::lcmd_dataset_options,
    shards: String,
}

macro_rules! dataset_setters {
    ($($field:ident : $t:ty),* $(,)?) => {
        impl DatasetOptions {
            $(
                pub fn $field(mut self, value: $t) -> Self {
                    self.raw.$field = value;
                    self
                }
            )*
        }
    };
}

dataset_setters! {
    resolution: i32,
    batch_size: i32,
    seed: u64,
    shuffle_buffer: i32,
    shuffle_initial: i32,
    epochs: i32,
    rank: i32,
    world_size: i32,
    num_workers: i32,
    prefetch: i32,
    max_pixels: i64,
    max_member_bytes: i64,
}

impl DatasetOptions {
    /// The defaults over `shards` (specs separated by `::`, brace-expanded; files,
    /// directories or `pipe:COMMAND`).
    pub fn new(shards: impl Into<String>) -> Self {
        DatasetOptions { raw: zeroed_init(sys::lcmd_dataset_options_init), shards: shards.into() }
    }
    pub fn shards(mut self, shards: impl Into<String>) -> Self {
        self.shards = shards.into();
        self
    }
    pub fn shuffle_shards(mut self, yes: bool) -> Self {
        self.raw.shuffle_shards = yes as i32;
        self
    }
    pub fn resampled(mut self, yes: bool) -> Self {
        self.raw.resampled = yes as i32;
        self
    }
    pub fn crop(mut self, mode: CropMode) -> Self {
        self.raw.crop = mode.raw() as i32;
        self
    }
    pub fn random_flip(mut self, yes: bool) -> Self {
        self.raw.random_flip = yes as i32;
        self
    }
    /// The C struct (its `shards` pointer is set at create time).
    pub fn raw_mut(&mut self) -> &mut sys::lcmd_dataset_options {
        &mut self.raw
    }
}

owned_handle! {
    /// `lcmd_dataset`: a stream of batches. Also an `Iterator` of `Result<Batch>`.
    Dataset<'ctx>, sys::lcmd_dataset, sys::lcmd_dataset_destroy
}

impl<'ctx> Dataset<'ctx> {
    pub fn new(ctx: &'ctx Context, options: &DatasetOptions) -> Result<Dataset<'ctx>> {
        let shards = c_string(&options.shards, "shards")?;
        let mut raw = options.raw;
        raw.shards = shards.as_ptr();
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_dataset_create(ctx.as_ptr(), &raw, &mut out) })?;
        Ok(unsafe { Dataset::from_raw(out) }.expect("NULL dataset"))
    }

    /// The next batch, or None at the end of the stream.
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        let mut out = ptr::null_mut();
        if check_stream(unsafe { sys::lcmd_dataset_next(self.as_ptr(), &mut out) })? {
            Ok(unsafe { Batch::from_raw(out) })
        } else {
            Ok(None)
        }
    }

    /// Discards the next `n` batches; returns how many were discarded (fewer when the
    /// stream ended first).
    pub fn skip(&mut self, n: i64) -> Result<i64> {
        let mut skipped = 0;
        check_stream(unsafe { sys::lcmd_dataset_skip(self.as_ptr(), n, &mut skipped) })?;
        Ok(skipped)
    }

    pub fn stats(&self) -> Result<DatasetStats> {
        let mut stats: DatasetStats = unsafe { std::mem::zeroed() };
        stats.struct_size = std::mem::size_of::<DatasetStats>() as u32;
        check(unsafe { sys::lcmd_dataset_get_stats(self.as_ptr(), &mut stats) })?;
        Ok(stats)
    }
}

impl Iterator for Dataset<'_> {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Result<Batch>> {
        self.next_batch().transpose()
    }
}

owned_handle! {
    /// `lcmd_batch`: images `[N, 3, R, R]` in [-1, 1] and their captions.
    Batch, sys::lcmd_batch, sys::lcmd_batch_destroy
}

/// Crop offsets of a sample in the resized image, and whether it was flipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop {
    pub top: i32,
    pub left: i32,
    pub flipped: bool,
}

impl Batch {
    /// Number of samples.
    pub fn size(&self) -> usize {
        unsafe { sys::lcmd_batch_size(self.as_ptr()) }.max(0) as usize
    }

    /// Image side R.
    pub fn resolution(&self) -> usize {
        unsafe { sys::lcmd_batch_resolution(self.as_ptr()) }.max(0) as usize
    }

    /// The images, NCHW, `size() * 3 * R * R` floats.
    pub fn images(&self) -> &[f32] {
        let n = self.size() * 3 * self.resolution() * self.resolution();
        let p = unsafe { sys::lcmd_batch_images(self.as_ptr()) };
        if p.is_null() || n == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(p, n) }
        }
    }

    /// Caption `i` (None when out of range).
    pub fn caption(&self, i: usize) -> Option<&str> {
        let p = unsafe { sys::lcmd_batch_caption(self.as_ptr(), i as i32) };
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap_or(""))
    }

    pub fn captions(&self) -> Vec<&str> {
        (0..self.size()).filter_map(|i| self.caption(i)).collect()
    }

    /// Sample key `i`.
    pub fn key(&self, i: usize) -> Option<&str> {
        let p = unsafe { sys::lcmd_batch_key(self.as_ptr(), i as i32) };
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap_or(""))
    }

    /// (width, height) before the resize, as the SDXL script's orig_size.
    pub fn original_size(&self, i: usize) -> Result<(i32, i32)> {
        let (mut w, mut h) = (0, 0);
        check(unsafe { sys::lcmd_batch_original_size(self.as_ptr(), i as i32, &mut w, &mut h) })?;
        Ok((w, h))
    }

    pub fn crop(&self, i: usize) -> Result<Crop> {
        let (mut top, mut left, mut flipped) = (0, 0, 0);
        check(unsafe { sys::lcmd_batch_crop(self.as_ptr(), i as i32, &mut top, &mut left, &mut flipped) })?;
        Ok(Crop { top, left, flipped: flipped != 0 })
    }
}
