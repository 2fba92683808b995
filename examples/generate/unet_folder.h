/* Where the LCM UNet of a --unet argument lives. */
#ifndef LCMD_GENERATE_UNET_FOLDER_H
#define LCMD_GENERATE_UNET_FOLDER_H

/* `path` itself when it holds config.json (an exported unet/ folder), else `path/unet`
 * when that holds one (a trainer checkpoint-N or an output_dir), else `path` (so that
 * the loader names what is missing). Returns a malloc'd string, NULL when out of memory. */
char *resolve_unet_folder(const char *path);

#endif
