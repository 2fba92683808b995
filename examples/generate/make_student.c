/* Test helper: writes the LCM student of a pipeline's UNet as OUTPUT_DIR/unet, the
 * layout the trainer's final save has.
 *
 *   make-student PIPELINE_FOLDER OUTPUT_DIR */
#include <stdio.h>

#include <lcmd/lcmd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PIPELINE_FOLDER OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/unet", argv[2]);
    lcmd_context *ctx = NULL;
    lcmd_pipeline *p = NULL;
    lcmd_unet *student = NULL;
    lcmd_pipeline_options o;
    lcmd_pipeline_options_init(&o);
    o.load_vae = 0;
    o.load_text = 0;
    lcmd_status s = lcmd_context_create(NULL, &ctx);
    if (!s) s = lcmd_pipeline_open(ctx, argv[1], &o, &p);
    if (!s) s = lcmd_unet_create_student(ctx, lcmd_pipeline_unet(p), 256, &student);
    if (!s) s = lcmd_unet_save(student, folder, LCMD_WEIGHTS_F32, NULL);
    if (s) fprintf(stderr, "make-student: %s: %s\n", lcmd_status_string(s), lcmd_last_error());
    lcmd_unet_destroy(student);
    lcmd_pipeline_destroy(p);
    lcmd_context_destroy(ctx);
    return s ? 1 : 0;
}
