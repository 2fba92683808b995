/* A look at a model folder's config.json before its weights are loaded, so that image
 * sizes can be checked before any loading. */
#ifndef LCMD_GENERATE_CONFIG_PEEK_H
#define LCMD_GENERATE_CONFIG_PEEK_H

/* 2^(len(block_out_channels) - 1) of `folder/config.json`: the downsampling of a
 * diffusers VAE or UNet. Returns 0 when the file cannot be read or has no such list
 * (the library's loader then reports the problem). */
int config_downsample_factor(const char *folder);

#endif
