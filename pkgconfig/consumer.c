/* An out-of-tree program built only with `pkg-config --cflags --libs lcmd`. */
#include <stdio.h>
#include <string.h>

#include <lcmd/lcmd.h>

int main(void)
{
    if (lcmd_version() != LCMD_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", LCMD_VERSION_STRING, lcmd_version_string());
        return 1;
    }
    lcmd_context *ctx = NULL;
    if (lcmd_context_create(NULL, &ctx) != LCMD_OK) {
        fprintf(stderr, "context: %s\n", lcmd_last_error());
        return 1;
    }
    float z[2];
    lcmd_rng_normal(1, 0, 0, z, 2);
    printf("consumer: liblcmd %s on %s, draws %.4f %.4f\n", lcmd_version_string(),
           lcmd_context_device(ctx), z[0], z[1]);
    lcmd_context_destroy(ctx);
    return 0;
}
