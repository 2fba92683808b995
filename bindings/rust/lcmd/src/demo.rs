//! The embedded demo: a tiny SD teacher and generated WebDataset shards.
use crate::*;

plain_options! {
    /// `lcmd_demo_teacher_options`.
    DemoTeacherOptions, sys::lcmd_demo_teacher_options, sys::lcmd_demo_teacher_options_init {
        seed: u64,
        text_hidden_size: i32,
        text_layers: i32,
        unet_channels: i32,
        vae_channels: i32,
    }
}

plain_options! {
    /// `lcmd_demo_data_options`.
    DemoDataOptions, sys::lcmd_demo_data_options, sys::lcmd_demo_data_options_init {
        seed: u64,
        num_shards: i32,
        samples_per_shard: i32,
        resolution: i32,
        fixed_layout: i32,
        paired_colors: i32,
    }
}

plain_options! {
    /// `lcmd_demo_pretrain_options`.
    DemoPretrainOptions, sys::lcmd_demo_pretrain_options, sys::lcmd_demo_pretrain_options_init {
        steps: i32,
        batch_size: i32,
        resolution: i32,
        learning_rate: f64,
        seed: u64,
        uncond_probability: f64,
    }
}

/// Writes the tiny teacher pipeline into `folder` (created; its parent must exist).
pub fn write_teacher(ctx: &Context, folder: impl AsRef<Path>, options: Option<&DemoTeacherOptions>) -> Result<()> {
    let folder = c_path(folder.as_ref())?;
    let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
    check(unsafe { sys::lcmd_demo_write_teacher(ctx.as_ptr(), folder.as_ptr(), opts) })
}

/// Writes the demo shards `demo-000000.tar`, ... into `folder`.
pub fn write_shards(folder: impl AsRef<Path>, options: Option<&DemoDataOptions>) -> Result<()> {
    let folder = c_path(folder.as_ref())?;
    let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
    check(unsafe { sys::lcmd_demo_write_shards(folder.as_ptr(), opts) })
}

/// Trains the teacher in `folder` on `shards` briefly; returns the final running loss.
pub fn pretrain_teacher(
    ctx: &Context,
    folder: impl AsRef<Path>,
    shards: &str,
    options: Option<&DemoPretrainOptions>,
) -> Result<f64> {
    let folder = c_path(folder.as_ref())?;
    let shards = c_string(shards, "shards")?;
    let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
    let mut loss = 0.0;
    check(unsafe { sys::lcmd_demo_pretrain_teacher(ctx.as_ptr(), folder.as_ptr(), shards.as_ptr(), opts, &mut loss) })?;
    Ok(loss)
}
