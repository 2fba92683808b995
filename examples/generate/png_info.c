/* Test helper: prints "WIDTH HEIGHT CHANNELS" of a PNG file, or fails when it does not decode. */
#include <stdio.h>

#include <stb_image.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE.png\n", argv[0]);
        return 2;
    }
    int w, h, c;
    unsigned char *px = stbi_load(argv[1], &w, &h, &c, 0);
    if (!px) {
        fprintf(stderr, "png-info: %s: %s\n", argv[1], stbi_failure_reason());
        return 1;
    }
    printf("%d %d %d\n", w, h, c);
    stbi_image_free(px);
    return 0;
}
